package outreach_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// worldRunner returns a runner of world on store, on a manual clock, with
// quiet hours off, sending to its own simulated phones.
func worldRunner(t *testing.T, store outreach.Store, world string) (*outreach.Runner, *simphone.Network, *outreach.ManualClock) {
	t.Helper()
	clock := clocktest.Manual(t)
	net := simphone.New(clock, 1)
	r := outreach.NewRunner(store, simphone.NewSender(net), outreach.RunnerOptions{
		From: sender, World: world, Clock: clock, Window: outreach.AnyHour, NoThrottle: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return r, net, clock
}

// TestRunnerRefusesOtherWorld checks that a runner records its world on
// the campaigns it creates, and refuses to change a campaign of another
// world with a *WorldError that names both worlds.
func TestRunnerRefusesOtherWorld(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	dev, _, _ := worldRunner(t, store, outreach.WorldDev)
	sim, net, clock := worldRunner(t, store, outreach.WorldSim)

	c, _, err := dev.CreateCampaign(ctx, outreach.NewCampaign{Name: "dev", Flow: loopFlow()}, []outreach.Recipient{{ID: "p1", FirstName: "Ana", Phone: "+14406443709"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.World != outreach.WorldDev {
		t.Fatalf("created campaign's World = %q, want %q", c.World, outreach.WorldDev)
	}
	if err := sim.StartCampaign(ctx, c.ID); !errors.Is(err, outreach.ErrOtherWorld) {
		t.Fatalf("StartCampaign from another world: %v, want ErrOtherWorld", err)
	}
	if err := dev.StartCampaign(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func(context.Context, int64) error{
		"PauseCampaign": sim.PauseCampaign, "ResumeCampaign": sim.ResumeCampaign, "CancelCampaign": sim.CancelCampaign,
		"AddRecipients": func(ctx context.Context, id int64) error {
			_, err := sim.AddRecipients(ctx, id, []outreach.Recipient{{ID: "p2", Phone: "+14406443710"}})
			return err
		},
		"Simulation.Run": func(ctx context.Context, id int64) error {
			_, err := (&simphone.Simulation{Runner: sim, Store: store, Network: net, Clock: clock}).Run(ctx, id)
			return err
		},
	} {
		err := call(ctx, c.ID)
		var we *outreach.WorldError
		if !errors.As(err, &we) || we.Campaign != c.ID || we.World != outreach.WorldDev || we.Runtime != outreach.WorldSim {
			t.Errorf("%s from world sim on a dev campaign: %v, want a *WorldError naming both worlds", name, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, `"dev"`) || !strings.Contains(msg, `"sim"`) {
			t.Errorf("%s: error %q does not name both worlds", name, msg)
		}
	}
	got, err := store.Campaign(ctx, c.ID)
	if err != nil || got.Status != outreach.CampaignRunning {
		t.Fatalf("dev campaign after the refusals: %s, %v; want running", got.Status, err)
	}
	if n, err := sim.Tick(ctx); err != nil || n != 0 {
		t.Fatalf("sim runner's Tick handled %d conversations (%v), want none of the dev campaign's", n, err)
	}
}

// TestInboundStaysInItsWorld checks that a reply a runner receives never
// reaches a conversation of another world, even one active for the same
// phone and sending number: it is stored unmatched.
func TestInboundStaysInItsWorld(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	dev, devNet, _ := worldRunner(t, store, outreach.WorldDev)
	sim, _, _ := worldRunner(t, store, outreach.WorldSim)
	devNet.Add("+14406443709", simphone.Persona{Silent: true})
	c, _, err := dev.CreateCampaign(ctx, outreach.NewCampaign{Name: "dev", Flow: loopFlow()}, []outreach.Recipient{{ID: "p1", FirstName: "Ana", Phone: "+14406443709"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.StartCampaign(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Tick(ctx); err != nil { // asks its question: the conversation is active
		t.Fatal(err)
	}
	convs, err := store.Conversations(ctx, c.ID, 0, 10)
	if err != nil || len(convs) != 1 || convs[0].Status != outreach.ConversationActive {
		t.Fatalf("dev conversation: %+v, %v; want one active", convs, err)
	}
	if _, err := sim.HandleInbound(ctx, outreach.InboundMessage{From: "+14406443709", To: sender, Body: "yes", ProviderID: "SMsim1"}); err != nil {
		t.Fatal(err)
	}
	unmatched, err := store.Messages(ctx, 0)
	if err != nil || len(unmatched) != 1 || unmatched[0].ProviderID != "SMsim1" {
		t.Fatalf("unmatched messages = %v, %v; want the sim reply", unmatched, err)
	}
	msgs, err := store.Messages(ctx, convs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Direction == outreach.Inbound {
			t.Fatalf("the dev conversation got the sim world's reply %v", m)
		}
	}
	// The dev runner has nothing to do: no inbox event reached it.
	if n, err := dev.Tick(ctx); err != nil || n != 0 {
		t.Fatalf("dev Tick after the sim reply handled %d (%v), want 0", n, err)
	}
	// The same reply through the dev world's own webhook is its answer.
	if _, err := dev.HandleInbound(ctx, outreach.InboundMessage{From: "+14406443709", To: sender, Body: "yes", ProviderID: "SMdev1"}); err != nil {
		t.Fatal(err)
	}
	if n, err := dev.Tick(ctx); err != nil || n != 1 {
		t.Fatalf("dev Tick after its own reply handled %d (%v), want 1", n, err)
	}
}
