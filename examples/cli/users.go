package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/patient-outreach/sms/internal/storeopen"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/verify"
)

// usersUsage is the help of the users commands.
const usersUsage = `usage: cli users <command> [flags]

commands:
  add --name NAME --role ROLE --phone +1...   add a user of the web app; the password is read
      [--db PATH]                             from standard input (one line, at least 12 characters)
  list [--db PATH]                            the users: name, role, phone (masked), status

Roles: viewer (reads campaigns and results), operator (also runs campaigns,
deploys flows, manages opt-outs), admin (also manages the users). Login
codes are texted to the user's phone. The database is the web app's,
` + studioDB + `, unless --db says otherwise. Administrators manage users on
the web app's Users page too.
`

func cmdUsers(ctx context.Context, a *app, args []string) error {
	return dispatch(ctx, a, args, "users", usersUsage, []string{"add", "list"},
		map[string]command{"add": cmdUsersAdd, "list": cmdUsersList})
}

// userJSON is a user in --json output: never the password hash, the phone
// masked.
type userJSON struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Phone     string    `json:"phone"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

func toUserJSON(u verify.User) userJSON {
	return userJSON{Name: u.Name, Role: string(u.Role), Phone: outreach.MaskPhone(u.Phone), Disabled: u.Disabled, CreatedAt: u.CreatedAt}
}

func cmdUsersAdd(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "users add", "users add --name NAME --role viewer|operator|admin --phone +1... [--db PATH] < password")
	dbPath := fs.String("db", studioDB, "SQLite database file or postgres:// URL (default "+studioDB+", the web app's)")
	name := fs.String("name", "", "login name: lower-case letters, digits, '.', '_', '-'")
	role := fs.String("role", "", "viewer, operator or admin")
	phone := fs.String("phone", "", "the user's phone, where login codes are texted (E.164, such as +14155550100)")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if err := verify.ValidUserName(*name); err != nil {
		return usageErr("--name: %v", strings.TrimPrefix(err.Error(), "verify: "))
	}
	if r := verify.Role(*role); !r.Valid() {
		return usageErr("--role %q: use viewer, operator or admin", *role)
	}
	p, err := outreach.NormalizePhone(*phone, "US")
	if err != nil {
		return usageErr("--phone: %v", err)
	}
	if !a.json {
		fmt.Fprintln(a.stderr, "Type the password and press Enter (at least 12 characters):")
	}
	in := a.stdin
	if in == nil {
		in = strings.NewReader("")
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	hash, err := verify.HashPassword(strings.TrimRight(line, "\r\n"))
	if err != nil {
		return usageErr("%v", strings.TrimPrefix(err.Error(), "verify: "))
	}
	store, err := openStore(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	u := verify.User{Name: *name, Role: verify.Role(*role), PasswordHash: hash, Phone: p}
	err = store.CreateUser(ctx, u, time.Now())
	a.audit(ctx, store, a.actor(""), outreach.ActionUserCreated, resultOf(err), "user", *name, "role="+*role)
	if err != nil {
		if errors.Is(err, verify.ErrUserExists) {
			return usageErr("a user named %q exists already in %s: change it on the web app's Users page", *name, *dbPath)
		}
		return err
	}
	if a.json {
		u, err = store.GetUser(ctx, *name)
		if err != nil {
			return err
		}
		a.emit(map[string]any{"db": storeopen.Redact(*dbPath), "user": toUserJSON(u)})
		return nil
	}
	fmt.Fprintf(a.stdout, "added %s (%s, phone %s) to %s\n", u.Name, u.Role, outreach.MaskPhone(u.Phone), *dbPath)
	return nil
}

func cmdUsersList(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "users list", "users list [--db PATH]")
	dbPath := fs.String("db", studioDB, "SQLite database file or postgres:// URL (default "+studioDB+", the web app's)")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	store, err := openExisting(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	us, err := store.ListUsers(ctx)
	if err != nil {
		return err
	}
	if a.json {
		out := make([]userJSON, 0, len(us))
		for _, u := range us {
			out = append(out, toUserJSON(u))
		}
		a.emit(map[string]any{"db": storeopen.Redact(*dbPath), "users": out})
		return nil
	}
	if len(us) == 0 {
		fmt.Fprintf(a.stdout, "no users in %s (the web app creates \"admin\" at its first start)\n", *dbPath)
		return nil
	}
	for _, u := range us {
		status := "active"
		if u.Disabled {
			status = "disabled"
		}
		fmt.Fprintf(a.stdout, "%-20s %-9s %-10s %s\n", u.Name, u.Role, outreach.MaskPhone(u.Phone), status)
	}
	return nil
}
