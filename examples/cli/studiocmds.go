package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/patient-outreach/sms/internal/twilioenv"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/studio"
)

const studioUsage = `usage: cli studio <command> [flags]

commands:
  deploy NAME|FILE.json [--draft] [--point-number] [--friendly-name NAME]
                          deploy a flow to Twilio Studio: a new revision of the flow of
                          the same friendly name, or a new flow; published unless --draft
  list                    the account's Studio flows
  delete NAME|SID         delete a Studio flow, by friendly name or SID

Twilio comes from TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (--point-number
also needs TWILIO_PHONE_NUMBER).
`

func cmdStudio(ctx context.Context, a *app, args []string) error {
	return dispatch(ctx, a, args, "studio", studioUsage, []string{"deploy", "list", "delete"},
		map[string]command{"deploy": cmdStudioDeploy, "list": cmdStudioList, "delete": cmdStudioDelete})
}

// deployer returns a Studio deployer for the account the environment
// configures.
func deployer(a *app) (*studio.Deployer, twilioenv.Config, error) {
	cfg, err := twilioenv.FromEnv(a.getenv)
	if err != nil {
		return nil, cfg, usageErr("%v", err)
	}
	if !cfg.Configured() {
		return nil, cfg, usageErr("Twilio is not configured: set %s and %s (from the Twilio console)", twilioenv.EnvAccountSID, twilioenv.EnvAuthToken)
	}
	d, err := studio.NewDeployer(studio.DeployConfig{AccountSID: cfg.AccountSID, AuthToken: cfg.AuthToken, HTTPClient: cfg.HTTPClient()})
	if err != nil {
		return nil, cfg, usageErr("%v", err)
	}
	return d, cfg, nil
}

// deployedJSON is a deployed flow in JSON output.
type deployedJSON struct {
	SID          string `json:"sid"`
	FriendlyName string `json:"friendly_name"`
	Revision     int    `json:"revision"`
	Status       string `json:"status"`
	WebhookURL   string `json:"webhook_url"`
	ConsoleURL   string `json:"console_url"`
}

func toJSON(d studio.Deployed) deployedJSON {
	return deployedJSON{SID: d.SID, FriendlyName: d.FriendlyName, Revision: d.Revision, Status: d.Status, WebhookURL: d.WebhookURL, ConsoleURL: d.ConsoleURL}
}

func cmdStudioDeploy(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "studio deploy", "studio deploy NAME|FILE.json [--draft] [--point-number] [--friendly-name NAME]")
	draft := fs.Bool("draft", false, "save the revision as a draft instead of publishing it")
	point := fs.Bool("point-number", false, "point "+twilioenv.EnvPhoneNumber+"'s incoming messages at the flow (two-way flows get their replies this way)")
	friendly := fs.String("friendly-name", "", "the flow's friendly name in Studio (default: the flow's name, else its id)")
	message := fs.String("message", "", "commit message of the revision")
	db := fs.String("db", studioDB, "with --point-number: the database that records which runtime owns the number")
	ops, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	f, err := loadFlow(ops[0])
	if err != nil {
		return err
	}
	d, cfg, err := deployer(a)
	if err != nil {
		return err
	}
	if *point && cfg.PhoneNumber == "" {
		return usageErr("--point-number needs %s, the number to point at the flow", twilioenv.EnvPhoneNumber)
	}
	dep, err := d.Deploy(ctx, f, studio.DeployOptions{FriendlyName: *friendly, Draft: *draft, CommitMessage: *message})
	if err != nil {
		var ve *studio.ValidationError
		if errors.As(err, &ve) {
			return invalidErr("%v", err)
		}
		return err
	}
	if *point {
		// Through the Studio runtime, so that the database records that
		// the flow owns the number and refuses what would conflict.
		store, err := openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer store.Close()
		rt, err := studio.NewRuntime(store, studio.RuntimeConfig{Deployer: d, From: cfg.PhoneNumber, Logger: a.logger()})
		if err != nil {
			return err
		}
		if err := rt.TakeNumber(ctx, cfg.PhoneNumber, dep); err != nil {
			switch {
			case errors.Is(err, studio.ErrNotFound):
				return usageErr("%v (is %s a number of this account?)", err, twilioenv.EnvPhoneNumber)
			case errors.Is(err, outreach.ErrNumberConflict):
				return invalidErr("%v", err)
			}
			return err
		}
	}
	if a.json {
		doc := map[string]any{"flow": f.ID, "deployed": toJSON(dep)}
		if *point {
			doc["pointed_number"] = outreach.MaskPhone(cfg.PhoneNumber)
		}
		a.emit(doc)
		return nil
	}
	fmt.Fprintf(a.stdout, "deployed flow %s as %q: %s, revision %d, %s\n", f.ID, dep.FriendlyName, dep.SID, dep.Revision, dep.Status)
	fmt.Fprintf(a.stdout, "  console: %s\n  webhook: %s\n", dep.ConsoleURL, dep.WebhookURL)
	if *point {
		fmt.Fprintf(a.stdout, "pointed %s's incoming messages at the flow: replies to it now go to Studio, not to the embedded runtime's webhook\n", outreach.MaskPhone(cfg.PhoneNumber))
	} else if f.TwoWay() {
		fmt.Fprintln(a.stdout, "this flow waits for replies: run again with --point-number for them to reach Studio")
	}
	return nil
}

func cmdStudioList(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "studio list", "studio list")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	d, _, err := deployer(a)
	if err != nil {
		return err
	}
	list, err := d.List(ctx)
	if err != nil {
		return err
	}
	if a.json {
		out := make([]deployedJSON, 0, len(list))
		for _, f := range list {
			out = append(out, toJSON(f))
		}
		a.emit(map[string]any{"flows": out})
		return nil
	}
	if len(list) == 0 {
		fmt.Fprintln(a.stdout, "no Studio flow in this account")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SID\tFRIENDLY NAME\tREVISION\tSTATUS")
	for _, f := range list {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", f.SID, f.FriendlyName, f.Revision, f.Status)
	}
	return tw.Flush()
}

func cmdStudioDelete(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "studio delete", "studio delete NAME|SID")
	ops, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	d, _, err := deployer(a)
	if err != nil {
		return err
	}
	if err := d.Delete(ctx, ops[0]); err != nil {
		if errors.Is(err, studio.ErrNotFound) {
			return invalidErr("%v (see cli studio list)", err)
		}
		return err
	}
	if a.json {
		a.emit(map[string]any{"deleted": ops[0]})
		return nil
	}
	fmt.Fprintf(a.stdout, "deleted Studio flow %s\n", ops[0])
	return nil
}
