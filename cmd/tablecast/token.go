package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tablecast/tablecast/internal/auth"
)

func token(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	sub := fs.String("sub", "", "user id (the JWT sub claim); required")
	name := fs.String("name", "", "display name used by presence")
	ttl := fs.Duration("ttl", time.Hour, "lifetime; 0 for a token that never expires")
	channels := fs.String("channels", "", "app channels the token may subscribe to, comma separated; a trailing * matches any suffix")
	secret := fs.String("secret", "", "HS256 secret (default: $TABLECAST_JWT_SECRET)")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, "usage: tablecast token --sub USER [flags]\n\n"+
				"Prints a JWT for USER signed with the HS256 secret (development and tests).\n\nflags:\n")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return err
	}
	if *sub == "" {
		return errors.New("--sub is required")
	}
	key := *secret
	if key == "" {
		key = os.Getenv("TABLECAST_JWT_SECRET")
	}
	if key == "" {
		return errors.New("no secret: set TABLECAST_JWT_SECRET or pass --secret (a dev server prints its generated secret at start)")
	}
	c := auth.Claims{Subject: *sub, Name: *name}
	for _, ch := range strings.Split(*channels, ",") {
		if ch = strings.TrimSpace(ch); ch != "" {
			c.Channels = append(c.Channels, ch)
		}
	}
	now := time.Now()
	if *ttl > 0 {
		c.ExpiresAt = now.Add(*ttl)
	}
	tok, err := auth.Sign([]byte(key), c, now)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
