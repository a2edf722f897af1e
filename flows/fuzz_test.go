package flows

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// fuzzReplies is the dictionary that fuzzed replies are drawn from: valid
// and invalid answers to every question of the built-in flows.
var fuzzReplies = []string{
	"yes", "Y", "yeah", "sure", "no", "N", "nope", "not yet", "never",
	"0", "3", "5", "6", "8/10", "10", "11", "-1",
	"17", "18", "35", "55", "56", "121", "I'm 45",
	"9.9", "17.9", "24.5", "22,5", "35.1", "81",
	"49", "109", "110", "160 lbs", "150.5", "700", "701",
	"lots", "maybe", "forty", "", "  ", "?", "STOP", "🙂",
}

// checkSendKeys plays the events encoded in data against flow f and
// reports the first broken rule: a send key emitted twice, an action after
// the conversation finished, or an engine error. Each byte picks an event,
// and the byte after some events picks the reply or the key:
//
//	0      start
//	1-7    reply, body fuzzReplies[next byte]
//	8-9    timeout of the question being waited on
//	10     timeout of an earlier key (next byte picks it)
//	11     delivery failure of the last message sent
//	12     delivery failure of an earlier message (next byte picks it)
//	13     delivery failure of another conversation's message
//	14     opted out
//	15     timeout with the zero key
//
// The conversation always starts with a start event, and its state goes
// through JSON between events, as in a store.
func checkSendKeys(f *outreach.Flow, data []byte) error {
	const conv = 7
	r := outreach.Recipient{ID: "P-1", FirstName: "Ana", Phone: "+14405550142"}
	at := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	var (
		s        outreach.State
		keys     []outreach.SendKey // every key sent, in order
		sent     = map[outreach.SendKey]bool{}
		finished bool
		arg      = func(i *int) int {
			*i++
			if *i < len(data) {
				return int(data[*i])
			}
			return 0
		}
		pick = func(n int) outreach.SendKey {
			if len(keys) == 0 {
				return outreach.SendKey{Conversation: conv, Step: f.StartStep(), Attempt: n%3 + 1}
			}
			return keys[n%len(keys)]
		}
	)
	for i := -1; i < len(data); i++ {
		ev := outreach.Event{Type: outreach.EventStart, At: at.Add(time.Duration(i+1) * time.Minute)}
		if i >= 0 {
			switch op := data[i] % 16; {
			case op == 0:
			case op <= 7:
				ev.Type, ev.Body = outreach.EventReplied, fuzzReplies[arg(&i)%len(fuzzReplies)]
			case op <= 9:
				ev.Type, ev.Key = outreach.EventTimedOut, s.Wait
			case op == 10:
				ev.Type, ev.Key = outreach.EventTimedOut, pick(arg(&i))
			case op == 11:
				ev.Type, ev.Key = outreach.EventDeliveryFailure, pick(len(keys)-1)
			case op == 12:
				ev.Type, ev.Key = outreach.EventDeliveryFailure, pick(arg(&i))
			case op == 13:
				ev.Type, ev.Key = outreach.EventDeliveryFailure, pick(arg(&i))
				ev.Key.Conversation = conv + 1
			case op == 14:
				ev.Type = outreach.EventOptedOut
			case op == 15:
				ev.Type = outreach.EventTimedOut
			}
		}
		next, acts, err := outreach.Advance(f, conv, r, s, ev)
		if err != nil {
			return fmt.Errorf("event %d %+v: Advance: %v", i+1, ev, err)
		}
		next2, acts2, _ := outreach.Advance(f, conv, r, s, ev)
		if !reflect.DeepEqual(next, next2) || !reflect.DeepEqual(acts, acts2) {
			return fmt.Errorf("event %d %+v: Advance is not deterministic", i+1, ev)
		}
		for _, a := range acts {
			if finished {
				return fmt.Errorf("event %d %+v: %s after the conversation finished", i+1, ev, formatAction(a))
			}
			switch a := a.(type) {
			case outreach.Send:
				if sent[a.Key] {
					return fmt.Errorf("event %d %+v: key %v sent twice", i+1, ev, a.Key)
				}
				if a.Key.Conversation != conv || a.Key.Attempt < 1 {
					return fmt.Errorf("event %d %+v: bad key %v", i+1, ev, a.Key)
				}
				sent[a.Key] = true
				keys = append(keys, a.Key)
			case outreach.Finish:
				finished = true
			}
		}
		if finished != next.Done {
			return fmt.Errorf("event %d %+v: state done = %v after finish actions %v", i+1, ev, next.Done, finished)
		}
		b, err := json.Marshal(next)
		if err != nil {
			return err
		}
		s = outreach.State{}
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	return nil
}

// FuzzNoDuplicateSendKeys checks, for any sequence of events over each
// built-in flow, that no send key is emitted twice in the life of a
// conversation and that nothing is emitted after it finished.
func FuzzNoDuplicateSendKeys(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0, 1, 19, 1, 26, 1, 33, 1, 4}) // pharma: eligible
	f.Add([]byte{1, 13, 1, 0, 1, 4, 1, 0})         // provider: high pain, call
	f.Add([]byte{1, 37, 1, 38, 1, 39, 1, 10})      // invalid replies until no answer
	f.Add([]byte{1, 38, 10, 0, 8, 1, 10})          // a stale, then the current timeout
	f.Add([]byte{12, 0, 13, 1, 11, 14, 0})         // delivery failures, opt-out, start
	flows := builtinFlows(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, flow := range flows {
			if err := checkSendKeys(flow, data); err != nil {
				t.Fatalf("%s: %v", flow.ID, err)
			}
		}
	})
}

// TestNoDuplicateSendKeysRandom runs the fuzz test's check on a few thousand
// random sequences from a fixed seed, so that it runs with every go test
// (a few hundred with -short, and under the race detector: CI runs the
// thousands in its step without it).
func TestNoDuplicateSendKeysRandom(t *testing.T) {
	n := 2000
	if testing.Short() || raceEnabled {
		n = 200
	}
	for _, flow := range builtinFlows(t) {
		t.Run(flow.ID, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(3, 14))
			for range n {
				data := make([]byte, rng.IntN(60))
				for i := range data {
					// Favour replies, which move the conversation on.
					if rng.IntN(2) == 0 {
						data[i] = byte(1 + rng.IntN(7))
					} else {
						data[i] = byte(rng.IntN(256))
					}
				}
				if err := checkSendKeys(flow, data); err != nil {
					t.Fatalf("events %v: %v", data, err)
				}
			}
		})
	}
}

func builtinFlows(t testing.TB) []*outreach.Flow {
	var flows []*outreach.Flow
	for _, name := range BuiltinNames() {
		f, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		flows = append(flows, f)
	}
	return flows
}
