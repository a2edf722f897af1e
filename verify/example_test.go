package verify_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/verify"
)

func Example() {
	ctx := context.Background()

	// Once, when the administrator sets the password: keep only the hash.
	hash, err := verify.HashPassword("correct horse battery staple")
	if err != nil {
		panic(err)
	}

	// Dev mode: codes are handed to the operator instead of sent by SMS.
	// (The web app prints them to stderr; never to its logger.)
	var lastCode string
	login, err := verify.New(verify.Config{
		Account:      "admin",
		PasswordHash: hash,
		Phone:        "+14155550100",
		Codes:        &verify.LocalCodes{Notify: func(to, code string) { lastCode = code }},
		Attempts:     verify.NewMemoryAttempts(),
	})
	if err != nil {
		panic(err)
	}

	// Step 1: the password.
	_, err = login.CheckPassword(ctx, "admin", "192.0.2.10", "wrong password")
	fmt.Println(errors.Is(err, verify.ErrWrongPassword))
	ch, err := login.CheckPassword(ctx, "admin", "192.0.2.10", "correct horse battery staple")
	if err != nil {
		panic(err)
	}
	fmt.Println("code sent to", ch.MaskedPhone)

	// Step 2: the code, with the challenge from step 1.
	err = login.CheckCode(ctx, "admin", "192.0.2.10", ch.Token, lastCode)
	fmt.Println("logged in:", err == nil)
	// A challenge works once.
	err = login.CheckCode(ctx, "admin", "192.0.2.10", ch.Token, lastCode)
	fmt.Println(errors.Is(err, verify.ErrExpired))
	// Output:
	// true
	// code sent to •••0100
	// logged in: true
	// true
}

func ExampleLockedOutError() {
	ctx := context.Background()
	clock := outreach.NewManualClock(time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC))
	login, err := verify.New(verify.Config{
		Account:      "admin",
		PasswordHash: cheapHash("correct horse battery staple"),
		Phone:        "+14155550100",
		Codes:        &verify.LocalCodes{Notify: func(to, code string) {}, Clock: clock},
		Clock:        clock,
	})
	if err != nil {
		panic(err)
	}
	for range 5 {
		login.CheckPassword(ctx, "admin", "192.0.2.10", "guess")
	}
	_, err = login.CheckPassword(ctx, "admin", "192.0.2.10", "correct horse battery staple")
	var locked *verify.LockedOutError
	if errors.As(err, &locked) {
		fmt.Println("retry after", locked.RetryAfter)
	}
	fmt.Println(err)
	// Output:
	// retry after 1m0s
	// verify: too many failed attempts; try again in 1m0s
}

// Named users in a UserStore, and a remembered device that gets its user
// in while a stranger has the account throttled.
func ExampleLogin_CheckPasswordOnDevice() {
	ctx := context.Background()
	clock := outreach.NewManualClock(time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC))
	hash, err := verify.HashPassword("olga's long password")
	if err != nil {
		panic(err)
	}
	users := &verify.MemoryUsers{} // the web app uses its *sqlitestore.Store
	err = users.CreateUser(ctx, verify.User{Name: "olga", Role: verify.RoleOperator, PasswordHash: hash, Phone: "+14155550123"}, clock.Now())
	if err != nil {
		panic(err)
	}
	var lastCode string
	login, err := verify.New(verify.Config{
		Users: users, Clock: clock,
		Codes: &verify.LocalCodes{Notify: func(to, code string) { lastCode = code }, Clock: clock},
	})
	if err != nil {
		panic(err)
	}

	// Olga logs in from her browser, which then remembers its device.
	ch, _ := login.CheckPasswordOnDevice(ctx, "olga", "198.51.100.20", "", "olga's long password")
	if err := login.CheckCode(ctx, "olga", "198.51.100.20", ch.Token, lastCode); err != nil {
		panic(err)
	}
	device, _ := login.RememberDevice(ctx, "olga", "")

	// A stranger guesses until the account is throttled.
	for range 6 {
		_, err = login.CheckPassword(ctx, "olga", "203.0.113.7", "guess")
	}
	var locked *verify.LockedOutError
	if errors.As(err, &locked) {
		fmt.Println("stranger: retry in", locked.RetryAfter)
	}

	// Olga's browser is throttled on its own failures only.
	ch, err = login.CheckPasswordOnDevice(ctx, "olga", "198.51.100.20", device, "olga's long password")
	fmt.Println("olga:", err, "code sent to", ch.MaskedPhone)
	// Output:
	// stranger: retry in 1m0s
	// olga: <nil> code sent to •••0123
}
