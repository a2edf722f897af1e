package outreach

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// BatchRecorder is implemented by a [Store] that records many inbound
// messages, or many delivery statuses, in one transaction: what
// [Runner.HandleInboundBatch] and [Runner.HandleStatusBatch] use when the
// store has it (a simulation feeds the runner thousands of replies and
// delivery reports, and a transaction each is most of its cost).
//
// Each item has the effect that a call of [Store.RecordInbound] or
// [Store.UpdateDelivery] with it would have had, in the order given: an
// inbound message is stored once per ProviderID (a repeat, in the batch or
// before it, returns the first message with New false), and a delivery
// status never lowers the stored one. Either the whole batch is stored or,
// when err is not nil, none of it.
type BatchRecorder interface {
	// RecordInbounds is [Store.RecordInbound] for each of in, in world.
	RecordInbounds(ctx context.Context, world string, in []InboundRecord) ([]InboundResult, error)
	// UpdateDeliveries is [Store.UpdateDelivery] for each of updates:
	// results[i].Err matches ErrNotFound when no outbound message has
	// that ProviderID (the status is then kept, as UpdateDelivery keeps
	// it), and is nil otherwise.
	UpdateDeliveries(ctx context.Context, updates []DeliveryUpdate) ([]DeliveryResult, error)
}

// InboundRecord is one item of [BatchRecorder.RecordInbounds]: the
// arguments of a [Store.RecordInbound] call.
type InboundRecord struct {
	Message Message
	Event   EventKind
}

// InboundResult is what [Store.RecordInbound] returns for one
// [InboundRecord].
type InboundResult struct {
	Message Message
	New     bool
}

// DeliveryUpdate is one item of [BatchRecorder.UpdateDeliveries]: the
// arguments of a [Store.UpdateDelivery] call.
type DeliveryUpdate struct {
	ProviderID, Status, ErrorCode string
	At                            time.Time
}

// DeliveryResult is what [Store.UpdateDelivery] returns for one
// [DeliveryUpdate].
type DeliveryResult struct {
	Message Message
	Err     error
}

// RecordInbounds calls store's [BatchRecorder.RecordInbounds] when it has
// one, else [Store.RecordInbound] for each item in turn (stopping at the
// first error, with the results so far).
func RecordInbounds(ctx context.Context, store Store, world string, in []InboundRecord) ([]InboundResult, error) {
	if b, ok := store.(BatchRecorder); ok {
		return b.RecordInbounds(ctx, world, in)
	}
	out := make([]InboundResult, 0, len(in))
	for _, r := range in {
		m, isNew, err := store.RecordInbound(ctx, world, r.Message, r.Event)
		if err != nil {
			return out, err
		}
		out = append(out, InboundResult{Message: m, New: isNew})
	}
	return out, nil
}

// UpdateDeliveries calls store's [BatchRecorder.UpdateDeliveries] when it
// has one, else [Store.UpdateDelivery] for each item in turn (an error
// other than ErrNotFound stops it, with the results so far).
func UpdateDeliveries(ctx context.Context, store Store, updates []DeliveryUpdate) ([]DeliveryResult, error) {
	if b, ok := store.(BatchRecorder); ok {
		return b.UpdateDeliveries(ctx, updates)
	}
	out := make([]DeliveryResult, 0, len(updates))
	for _, u := range updates {
		m, err := store.UpdateDelivery(ctx, u.ProviderID, u.Status, u.ErrorCode, u.At)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return out, err
		}
		out = append(out, DeliveryResult{Message: m, Err: err})
	}
	return out, nil
}

// HandleInboundBatch handles messages from patients as [Runner.HandleInbound]
// does each of them, in order, and returns the text to answer each with
// (empty for none), but stores them in one transaction when the store is
// a [BatchRecorder]. What follows the storing (alerts, opt-outs, triggered
// conversations) is done message by message, in order, as HandleInbound
// does it. On an error the messages are stored or not as a whole (with a
// BatchRecorder): handling the same batch again, or any of it, is safe,
// since messages are idempotent on ProviderID.
func (r *Runner) HandleInboundBatch(ctx context.Context, in []InboundMessage) ([]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	recs := make([]InboundRecord, len(in))
	kws := make([]Keyword, len(in))
	replies := make([]string, len(in))
	for i, msg := range in {
		m, kw, event, reply, err := r.inboundMessage(msg)
		if err != nil {
			return nil, err
		}
		recs[i], kws[i], replies[i] = InboundRecord{Message: m, Event: event}, kw, reply
	}
	res, err := RecordInbounds(ctx, r.store, r.opts.World, recs)
	if err != nil {
		return nil, fmt.Errorf("outreach: record inbound messages: %w", err)
	}
	wake := false
	for i, got := range res {
		w, err := r.afterInbound(ctx, in[i], kws[i], recs[i].Event, got.Message, got.New)
		if err != nil {
			return nil, err
		}
		wake = wake || w
	}
	if wake {
		r.Wake()
	}
	return replies, nil
}

// HandleStatusBatch records delivery statuses as [Runner.HandleStatus]
// does each of them, in order, but stores them in one transaction when
// the store is a [BatchRecorder]. results[i] is what HandleStatus would
// have returned for updates[i] (nil, or an error matching ErrNotFound for
// a message no one knows); err reports a failure of the whole batch,
// after which handling it again is safe (a status never lowers a higher
// one).
func (r *Runner) HandleStatusBatch(ctx context.Context, updates []StatusUpdate) (results []error, err error) {
	if len(updates) == 0 {
		return nil, nil
	}
	now := r.opts.Clock.Now()
	dus := make([]DeliveryUpdate, len(updates))
	for i, u := range updates {
		if err := r.beforeStatus(ctx, u, now); err != nil {
			return nil, err
		}
		dus[i] = DeliveryUpdate{ProviderID: u.ProviderID, Status: u.Status, ErrorCode: u.ErrorCode, At: now}
	}
	res, err := UpdateDeliveries(ctx, r.store, dus)
	if err != nil {
		return nil, fmt.Errorf("outreach: delivery status: %w", err)
	}
	results = make([]error, len(updates))
	wake := false
	for i, u := range updates {
		w, err := r.afterStatus(ctx, u, res[i].Message, res[i].Err, now)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		results[i], wake = err, wake || w
	}
	if wake {
		r.Wake()
	}
	return results, nil
}
