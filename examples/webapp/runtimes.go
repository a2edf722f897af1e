package main

import (
	"log/slog"
	"maps"
	"slices"

	"github.com/patient-outreach/sms/internal/storeopen"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/twiliosms"
	"github.com/patient-outreach/sms/studio"
)

// This file is the one place where the app decides which runtimes
// campaigns can run on. Every page drives campaigns through the
// outreach.Runtime interface only.

// newEmbedded returns the embedded runtime: the library's own engine on
// the store DATABASE_URL names, sending through Twilio's Messages API (the fake's in
// dev mode). The app's webhooks hand it replies and delivery statuses.
// clock is the system clock, or dev mode's simulated one. Replies to
// STOP and START are left to Twilio (and to the fake in dev mode), which
// sends its own confirmations: StopReply and StartReply stay empty.
func newEmbedded(store storeopen.Store, account twilioAccount, clock outreach.Clock, cfg *config, logger *slog.Logger) (*outreach.Runner, error) {
	sender, err := twiliosms.NewSender(twiliosms.Config{
		AccountSID:          account.AccountSID,
		AuthToken:           account.AuthToken,
		From:                cfg.PhoneNumber,
		MessagingServiceSID: cfg.MessagingServiceSID,
		StatusCallbackURL:   cfg.PublicBaseURL + "/twilio/status",
		HTTPClient:          account.HTTPClient,
		// The sender dates the ValidityPeriod by the runner's clock.
		Clock: clock,
	})
	if err != nil {
		return nil, err
	}
	return outreach.NewRunner(store, sender, outreach.RunnerOptions{
		From:      sendingNumber(cfg),
		World:     world(cfg),
		Clock:     clock,
		Window:    cfg.Window,
		Urgent:    cfg.Urgent,
		Notifier:  notifierOf(cfg, sender),
		Logger:    logger,
		PerSecond: cfg.sendRate,
		// Flows imported from Studio run as Studio runs them; their
		// make-http-request and run-function widgets fail (no hosts are
		// allowed, no functions registered).
		Machines: map[string]outreach.Machine{studio.SourceFormat: &studio.Machine{}},
	}), nil
}

// newRuntimes returns the runtimes by name. The new-campaign page offers
// each of them.
func newRuntimes(embedded *outreach.Runner, store storeopen.Store, deployer *studio.Deployer, clock outreach.Clock, cfg *config, logger *slog.Logger) (map[string]outreach.Runtime, error) {
	// The Studio runtime runs each conversation as an execution of the
	// flow deployed to Studio (in dev mode, the fake's interpreter runs
	// them), on the same store: each runtime claims only its campaigns.
	st, err := studio.NewRuntime(store, studio.RuntimeConfig{
		Deployer: deployer, From: sendingNumber(cfg), World: world(cfg), Window: cfg.Window,
		PollInterval: cfg.StudioPoll, Logger: logger, Clock: clock, Urgent: cfg.Urgent,
	})
	if err != nil {
		return nil, err
	}
	return map[string]outreach.Runtime{embedded.Name(): embedded, st.Name(): st}, nil
}

// runtimeNames lists the runtimes' names, embedded first.
func runtimeNames(rts map[string]outreach.Runtime) []string {
	names := slices.Sorted(maps.Keys(rts))
	slices.SortStableFunc(names, func(a, b string) int {
		switch {
		case a == outreach.RuntimeEmbedded:
			return -1
		case b == outreach.RuntimeEmbedded:
			return 1
		}
		return 0
	})
	return names
}

// runtimeFor names the runtime of a campaign: the one recorded with it,
// the embedded runtime when none is.
func runtimeFor(c outreach.Campaign) string {
	if c.Runtime == "" {
		return outreach.RuntimeEmbedded
	}
	return c.Runtime
}

// world is the world of the app's campaigns (outreach.Campaign.World):
// dev mode's fake Twilio, or the Twilio account. Its runtimes work only on
// that world's campaigns, whoever else shares the database.
func world(cfg *config) string {
	if cfg.Dev {
		return outreach.WorldDev
	}
	return outreach.TwilioWorld(cfg.AccountSID)
}

// sendingNumber is what campaigns send from: the number, else the
// Messaging Service.
func sendingNumber(cfg *config) string {
	if cfg.PhoneNumber != "" {
		return cfg.PhoneNumber
	}
	return cfg.MessagingServiceSID
}
