package config

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxSize bounds the byte-size settings that have no natural ceiling.
const maxSize = 1 << 40

// parseDuration accepts whole seconds ("30") or a Go duration ("30s", "1m30s").
func parseDuration(v string) (time.Duration, error) {
	s := strings.TrimSpace(v)
	if s != "" && strings.Trim(s, "0123456789") == "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > math.MaxInt64/int64(time.Second) {
			return 0, fmt.Errorf("%q is too long a duration", v)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 30, 30s, 1m)", v)
	}
	return d, nil
}

// sizeUnits are the units parseSize knows, lower-cased.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
}

// parseSize accepts a whole number of bytes with an optional unit: B, KB, MB,
// GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), in any case.
func parseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	mult, ok := sizeUnits[strings.ToLower(strings.TrimSpace(s[i:]))]
	if i == 0 || !ok {
		return 0, fmt.Errorf("%q is not a size (like 65536, 512KiB, 4MiB, 1MB)", v)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large a size", v)
	}
	return n * mult, nil
}

// formatSize writes n with the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// parseRate accepts "<rate>[/s|/m][,<burst>]", e.g. "100/s,200", "100/s",
// "6000/m,50". A bare rate is per second. Without a burst, the burst is twice
// the rate per second, rounded up, and at least 1.
func parseRate(v string) (RateLimit, error) {
	bad := fmt.Errorf("%q is not a rate (like 100/s,200 or 100/s or 6000/m)", v)
	ratePart, burstPart, hasBurst := strings.Cut(v, ",")
	num, unit, hasUnit := strings.Cut(strings.TrimSpace(ratePart), "/")
	per := 1.0
	if hasUnit {
		switch strings.TrimSpace(unit) {
		case "s":
		case "m":
			per = 60
		default:
			return RateLimit{}, bad
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return RateLimit{}, bad
	}
	if n <= 0 {
		return RateLimit{}, fmt.Errorf("%q: the rate must be above zero", v)
	}
	r := RateLimit{PerSecond: n / per}
	if !hasBurst {
		r.Burst = int(math.Max(1, math.Ceil(2*r.PerSecond)))
		return r, nil
	}
	b, err := strconv.Atoi(strings.TrimSpace(burstPart))
	if err != nil {
		return RateLimit{}, bad
	}
	if b < 1 {
		return RateLimit{}, fmt.Errorf("%q: the burst must be at least 1", v)
	}
	r.Burst = b
	return r, nil
}

func parsePort(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("%q is not a port number", v)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is out of range (1 to 65535)", v)
	}
	return n, nil
}

func splitHostPort(v string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(v)
	if err != nil {
		return "", "", fmt.Errorf("%q is not host:port (like :3000 or 127.0.0.1:3000)", v)
	}
	return host, port, nil
}

// parseOrigins splits a comma list of origins. Each is "*" or
// scheme://host[:port] with nothing after; they are lower-cased.
func parseOrigins(v string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(v, ",") {
		o = strings.ToLower(strings.TrimSpace(o))
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil ||
				u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
				return nil, fmt.Errorf("%q is not an origin (like https://example.com or *)", o)
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// checkURL checks that v has one of schemes and something after "://". Its
// errors never repeat v, which may hold a password.
func checkURL(v string, schemes ...string) error {
	want := strings.Join(schemes, "://, ") + "://"
	scheme, rest, ok := strings.Cut(v, "://")
	if !ok {
		return fmt.Errorf("not a URL; want %s", want)
	}
	known := false
	for _, s := range schemes {
		known = known || strings.EqualFold(scheme, s)
	}
	if !known {
		return fmt.Errorf("scheme %q is not one of %s", scheme, want)
	}
	if rest == "" {
		return fmt.Errorf("%s:// URL is empty after the scheme", scheme)
	}
	if !strings.EqualFold(scheme, "sqlite") {
		if _, err := url.Parse(v); err != nil {
			return fmt.Errorf("not a valid %s:// URL", scheme)
		}
	}
	return nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "f", "false", "no", "off":
		return false, nil
	case "1", "t", "true", "yes", "on":
		return true, nil
	}
	return false, fmt.Errorf("%q is not a boolean (1, true, 0, false)", v)
}

func parseLevel(v string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not debug, info, warn or error", v)
}
