package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Payloads of the store's notifications: what kind of work appeared. They
// carry no ids and no PHI.
const (
	NotifyCampaign = "campaign" // a running campaign got conversations, or a campaign started
	NotifyInbound  = "inbound"  // an inbound message added an inbox event
	NotifyDelivery = "delivery" // a delivery failure added an inbox event
)

// Channel returns the LISTEN/NOTIFY channel on which the store announces
// new work (see [Options.Channel]).
func (s *Store) Channel() string { return s.channel }

// notify queues a notification of kind on the store's channel within tx:
// Postgres delivers it when tx commits, and drops it if tx rolls back.
func (s *Store) notify(ctx context.Context, tx pgx.Tx, kind string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, s.channel, kind); err != nil {
		return wrap("notify", err)
	}
	return nil
}

// Listen calls wake whenever the store, in this process or another on the
// same database and schema, records new work: a running campaign gets
// conversations or starts, an inbound reply adds an inbox event, a
// delivery failure adds one. It also calls wake once as soon as it
// listens, and again after each reconnection, since work may have
// appeared while it was not listening. wake must not block for long: a
// runner's Wake, which only signals, is what it is for:
//
//	go store.Listen(ctx, runner.Wake)
//
// Listen holds a dedicated connection (not one of the pool's) and waits
// with WaitForNotification; on an error it reconnects, backing off from
// 100ms to 5s. It returns ctx.Err() when ctx is done, and nothing else.
// Runners keep polling too: notifications speed them up, they are not
// needed for correctness.
func (s *Store) Listen(ctx context.Context, wake func()) error {
	backoff := 100 * time.Millisecond
	for {
		err := s.listenOnce(ctx, wake, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = err // reconnect: the error is transient or the server is away
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listenOnce connects, listens and calls wake for each notification until
// an error; connected is called once listening.
func (s *Store) listenOnce(ctx context.Context, wake, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return err
	}
	connected()
	wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}

// Wake returns a channel that receives a value when the store records new
// work (see [Listen]; several notifications may be merged into one
// value). A goroutine listens until ctx is done, then closes the channel.
func (s *Store) Wake(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	go func() {
		defer close(ch)
		_ = s.Listen(ctx, func() {
			select {
			case ch <- struct{}{}:
			default:
			}
		})
	}()
	return ch
}
