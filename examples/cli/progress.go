package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// barWidth is the progress bar's width in characters.
const barWidth = 24

// reporter shows a campaign's progress: a bar redrawn in place on a
// terminal, else a plain line (or a JSON line with --json) every so often
// and at every tenth of the campaign.
type reporter struct {
	a     *app
	id    int64
	every time.Duration

	first     time.Time // first report, and conversations done then
	firstDone int
	lastLine  time.Time
	lastTenth int
	last      counts
}

func newReporter(a *app, id int64, every time.Duration) *reporter {
	return &reporter{a: a, id: id, every: every, lastTenth: -1}
}

// eta estimates how long the rest takes, from the pace since the first
// report; ok is false before anything finished.
func (r *reporter) eta(c counts, now time.Time) (time.Duration, bool) {
	doneNow := c.Completed - r.firstDone
	elapsed := now.Sub(r.first)
	if doneNow <= 0 || elapsed <= 0 {
		return 0, false
	}
	left := c.Total - c.Completed
	return time.Duration(float64(elapsed) / float64(doneNow) * float64(left)), true
}

func fmtETA(d time.Duration, ok bool) string {
	switch {
	case !ok:
		return "ETA --"
	case d < time.Second:
		return "ETA <1s"
	}
	return "ETA " + d.Round(time.Second).String()
}

// update reports p.
func (r *reporter) update(p outreach.Progress) {
	now := time.Now()
	c := countsOf(p)
	if r.first.IsZero() {
		r.first, r.firstDone = now, c.Completed
	}
	eta, ok := r.eta(c, now)
	if r.a.terminal && !r.a.json {
		r.draw(c, fmtETA(eta, ok))
		return
	}
	tenth := 0
	if c.Total > 0 {
		tenth = c.Completed * 10 / c.Total
	}
	if tenth == r.lastTenth && now.Sub(r.lastLine) < r.every {
		return
	}
	r.lastTenth, r.lastLine, r.last = tenth, now, c
	r.line(c, eta, ok)
}

func (r *reporter) line(c counts, eta time.Duration, ok bool) {
	if r.a.json {
		ev := map[string]any{"event": "progress", "campaign": r.id, "counts": c}
		if ok {
			ev["eta_seconds"] = eta.Seconds()
		}
		r.a.emit(ev)
		return
	}
	pct := 0
	if c.Total > 0 {
		pct = c.Completed * 100 / c.Total
	}
	if c.Completed == c.Total {
		fmt.Fprintf(r.a.stdout, "progress: %3d%%  %s\n", pct, c)
		return
	}
	fmt.Fprintf(r.a.stdout, "progress: %3d%%  %s, %s\n", pct, c, fmtETA(eta, ok))
}

// draw redraws the bar on the terminal's current line.
func (r *reporter) draw(c counts, eta string) {
	filled := 0
	if c.Total > 0 {
		filled = c.Completed * barWidth / c.Total
	}
	bar := strings.Repeat("#", filled) + strings.Repeat("-", barWidth-filled)
	line := fmt.Sprintf("\r[%s] %d/%d completed  sent %d  replied %d  opted out %d  failed %d  deferred %d  %s\x1b[K",
		bar, c.Completed, c.Total, c.Sent, c.Replied, c.OptedOut, c.Failed, c.Deferred, eta)
	r.a.mu.Lock()
	defer r.a.mu.Unlock()
	fmt.Fprint(r.a.stdout, line)
	r.a.bar = line
}

// endBar ends the bar's line, if one is drawn.
func (r *reporter) endBar() {
	r.a.mu.Lock()
	defer r.a.mu.Unlock()
	if r.a.bar != "" {
		fmt.Fprintln(r.a.stdout)
		r.a.bar = ""
	}
}

// final reports the last figures, ending the bar's line.
func (r *reporter) final(p outreach.Progress) {
	c := countsOf(p)
	switch {
	case r.a.json:
		if c != r.last {
			r.line(c, 0, false)
		}
	case r.a.terminal:
		r.draw(c, "")
		r.endBar()
	case c != r.last:
		r.line(c, 0, false)
	}
}

// note writes a message on stderr, below the bar if one is drawn.
func (r *reporter) note(msg string) {
	r.endBar()
	fmt.Fprintln(r.a.stderr, msg)
}
