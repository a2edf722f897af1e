// Package verify is the web app's login: named [User]s with a [Role]
// (viewer, operator, admin), each with a password checked against an
// argon2id hash, then a one-time code sent by SMS to the user's own phone,
// with throttling of failed attempts. It does no HTTP: the web app wraps
// it.
//
//	login, err := verify.New(verify.Config{
//		Users:    store, // a UserStore, e.g. a *sqlitestore.Store
//		Codes:    codes, // Twilio Verify; verify.LocalCodes in dev mode
//		Attempts: store, // e.g. a *sqlitestore.Store, shared and persistent
//	})
//	...
//	client := verify.ClientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), trustedProxies)
//	ch, err := login.CheckPasswordOnDevice(ctx, name, client, deviceCookie, password)
//	// keep ch.Token for the next form; the code is on its way
//	err = login.CheckCode(ctx, name, client, ch.Token, code)
//	if err == nil {
//		// logged in: start the session, and remember the browser
//		token, err := login.RememberDevice(ctx, name, deviceCookie)
//	}
//
// # Users
//
// A [UserStore] keeps the users and the hashes of their remembered
// devices: [MemoryUsers] in memory, sqlitestore.Store or pgstore.Store in
// its database. [Config.Account], PasswordHash and Phone are a shortcut
// for a single administrator kept in memory.
//
// A [ChallengeStore] ([Config.Challenges]) keeps the logins between their
// two steps: [MemoryChallenges] by default, for one process; the
// database's store (sqlitestore, pgstore) when several instances of the
// web app serve the same users, so that the code step may reach another
// instance than the password step.
//
// # Outcomes
//
// Each failed step returns an error the web layer tells apart with
// [errors.Is] and [errors.As]: [ErrWrongPassword] (which never says
// whether the account name or the password was wrong), [ErrWrongCode],
// [ErrExpired] (code or challenge expired or used: log in again),
// [ErrLockedOut] as a [*LockedOutError] carrying when to retry, and
// [*SenderError] when the code could not be sent or checked. No error
// string holds the password, the code, the challenge or the phone number.
//
// # Throttling
//
// Following the OWASP Authentication Cheat Sheet, there is no hard
// lockout that a stranger could hold. Failed attempts are counted per
// account and per client address separately, in an [AttemptStore]:
// [MemoryAttempts] in-process, or a store shared by every instance and
// kept across restarts (sqlitestore.Store and memstore.Store implement
// it). After [Config.MaxFailures] (5) failures of either, the next try
// waits [Config.LockoutBase] (1 minute); every further failure doubles
// the delay, up to [Config.LockoutMax] (1 hour). A throttled attempt is
// refused with a [*LockedOutError] that says when to retry, without
// checking anything, and is not counted.
//
// A browser that completed a login keeps a remembered-device token
// ([Login.RememberDevice]). Its later attempts for that user
// ([Login.CheckPasswordOnDevice]) are counted on the device alone: a
// stranger failing on the account, even once a minute for days, cannot
// keep the user out, and the device is throttled by its own failures.
// Client addresses come from [ClientAddr], which believes X-Forwarded-For
// only from trusted proxies.
//
// Every attempt, of either step, is counted as a failure before it is
// checked, so concurrent attempts, from one instance or many, cannot make
// more checks than the limit; a completed login (password and code)
// clears the account's and the address's counts. So a wrong code counts
// like a wrong password, and a right password counts until its code is
// checked. The code step is exempt from a lockout that its own password
// step started when nothing else failed since: otherwise the first login
// after a lockout lifts could never finish. A count is forgotten
// [Config.Forget] (24 hours) after its latest failure.
//
// # Codes
//
// A [CodeSender] has the shape of Twilio Verify, which generates, delivers
// and checks the codes itself. [LocalCodes] is the dev-mode sender: it
// generates 6-digit codes with crypto/rand, expiring after 10 minutes,
// usable once, void after 5 checks, and hands each code to a Notify
// function (the web app prints it to stderr, never to its logger).
//
// twilioverify.Codes (package verify/twilioverify, so that this package and the stores that keep its users need no Twilio client) is the production sender, on Twilio Verify: it finds or
// creates the Verify service by friendly name, maps Twilio's 404 for an
// expired, approved or canceled verification to [ErrExpired], and 5 sends
// of one verification to [ErrTooManyCodes].
//
// # Passwords
//
// [HashPassword] makes an argon2id hash in the PHC string format, with the
// parameters and a random salt in it; [CheckPassword] checks a password
// against it in constant time. Store only the hash.
package verify
