package main

import (
	"context"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// A campaign's schedule, as its page shows it: how many recipients have
// not been reached yet, and which wait for their local sending window
// (quiet hours), with when the next of them goes out, per zone. The store
// has no query for it: it is computed here from the campaign's
// conversations and their messages, with outreach.Window.Next, as the
// runner decides.

// maxScheduleScan bounds how many unfinished conversations one schedule
// reads; beyond it the numbers are marked approximate.
const maxScheduleScan = 5000

// zoneWait is one row of the "waiting for the sending window" table.
type zoneWait struct {
	Zone  string    `json:"zone"`  // IANA zone(s) of the recipients' window
	Count int       `json:"count"` // recipients waiting
	Next  time.Time `json:"next"`  // when their window opens
	Local string    `json:"local"` // Next in the zone's own time, such as "Wed 08:00 HST"
}

// campaignSchedule is computed by app.schedule.
type campaignSchedule struct {
	// NotReached counts recipients no message has reached yet (none
	// accepted by the provider), finished conversations left out.
	NotReached int `json:"not_reached"`
	// Waiting counts recipients with a message to send while their
	// sending window is closed.
	Waiting int `json:"waiting"`
	// Next is the earliest of their next sends; zero when none waits.
	Next   time.Time  `json:"next"`
	NextIn string     `json:"next_in"` // "in 4 h 12 min" from the (simulated) clock's now
	Zones  []zoneWait `json:"zones"`
	// Approximate is set when the campaign was too large to read whole.
	Approximate bool `json:"approximate"`
}

// zoneCache loads IANA zones once.
type zoneCache struct {
	mu sync.Mutex
	m  map[string]*time.Location
}

func (z *zoneCache) load(name string) *time.Location {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.m == nil {
		z.m = map[string]*time.Location{}
	}
	if loc, ok := z.m[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = nil
	}
	z.m[name] = loc
	return loc
}

// now is the time of the app's world: the simulated clock in dev mode.
func (a *app) now() time.Time {
	if a.dev != nil {
		return a.dev.clock.Now()
	}
	return time.Now()
}

// schedule computes c's schedule as of now.
func (a *app) schedule(ctx context.Context, c outreach.Campaign) (campaignSchedule, error) {
	var s campaignSchedule
	now := a.now()
	byZone := map[string]*zoneWait{}
	scanned := 0
	for after := int64(0); ; {
		convs, err := a.store.Conversations(ctx, c.ID, after, 500)
		if err != nil {
			return s, err
		}
		if len(convs) == 0 {
			break
		}
		for _, cv := range convs {
			after = cv.ID
			if cv.Status == outreach.ConversationDone {
				continue
			}
			if scanned++; scanned > maxScheduleScan {
				s.Approximate = true
				break
			}
			reached, toSend := false, cv.Status == outreach.ConversationPending
			if cv.Status != outreach.ConversationPending {
				msgs, err := a.store.Messages(ctx, cv.ID)
				if err != nil {
					return s, err
				}
				for _, m := range msgs {
					if m.Direction != outreach.Outbound {
						continue
					}
					reached = reached || m.ProviderID != ""
					toSend = toSend || m.Status == outreach.MessageQueued
				}
			}
			if !reached {
				s.NotReached++
			}
			if !toSend || c.Status.Finished() {
				continue
			}
			names := cv.Zones
			if len(names) == 0 {
				names = []string{cmpOr(c.DefaultZone, "America/New_York")}
			}
			var locs []*time.Location
			for _, n := range names {
				if loc := a.zones.load(n); loc != nil {
					locs = append(locs, loc)
				}
			}
			if len(locs) == 0 {
				locs = []*time.Location{time.UTC}
			}
			if a.cfg.Window.Contains(now, locs) {
				continue
			}
			start, _, ok := a.cfg.Window.Next(now, locs)
			if !ok {
				continue
			}
			key := strings.Join(names, " + ")
			zw := byZone[key]
			if zw == nil {
				zw = &zoneWait{Zone: key, Next: start.UTC(), Local: start.In(locs[0]).Format("Mon 15:04 MST")}
				byZone[key] = zw
			}
			zw.Count++
			s.Waiting++
			if s.Next.IsZero() || start.Before(s.Next) {
				s.Next = start.UTC()
			}
		}
		if s.Approximate {
			break
		}
	}
	for _, zw := range byZone {
		s.Zones = append(s.Zones, *zw)
	}
	slices.SortFunc(s.Zones, func(x, y zoneWait) int {
		if c := x.Next.Compare(y.Next); c != 0 {
			return c
		}
		return strings.Compare(x.Zone, y.Zone)
	})
	if !s.Next.IsZero() {
		s.NextIn = untilText(s.Next.Sub(now))
	}
	return s, nil
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// untilText says how long d is, as "in 4 h 12 min".
func untilText(d time.Duration) string {
	if d <= 0 {
		return "now"
	}
	d = d.Round(time.Minute)
	if d < time.Minute {
		return "in less than a minute"
	}
	days, h, m := d/(24*time.Hour), (d%(24*time.Hour))/time.Hour, (d%time.Hour)/time.Minute
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%d d", days))
	}
	if h > 0 {
		parts = append(parts, fmt.Sprintf("%d h", h))
	}
	if m > 0 && days == 0 {
		parts = append(parts, fmt.Sprintf("%d min", m))
	}
	return "in " + strings.Join(parts, " ")
}

// timeHTML shows an instant in UTC, labelled, inside a <time> element
// whose datetime app.js turns into the viewer's local time with its zone
// abbreviation. layout is a Go time layout without a zone.
func timeHTML(t time.Time, layout, kind string) template.HTML {
	if t.IsZero() {
		return ""
	}
	u := t.UTC()
	return template.HTML(fmt.Sprintf(`<time datetime="%s" data-local="%s">%s UTC</time>`,
		u.Format(time.RFC3339), template.HTMLEscapeString(kind), template.HTMLEscapeString(u.Format(layout))))
}
