package verify

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseTrustedProxies parses a comma-separated list of IP addresses and
// CIDR prefixes ("10.0.0.1, 192.168.0.0/16, fd00::/8"): the reverse
// proxies whose X-Forwarded-For [ClientAddr] believes. "" gives none.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("verify: trusted proxy %q is not an IP address or a CIDR prefix", f)
			}
			ps = append(ps, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("verify: trusted proxy %q is not an IP address or a CIDR prefix", f)
		}
		a = a.Unmap()
		ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
	}
	return ps, nil
}

// ClientAddr returns the client address of a request to count failed
// logins on. remoteAddr is the address of the TCP peer (an http.Request's
// RemoteAddr, with or without a port) and forwardedFor the values of its
// X-Forwarded-For headers.
//
// The header is believed only as far as it was written by trusted proxies:
// if the peer is not in trusted (always so when trusted is empty), the
// peer's address is the client's, whatever the header says, so that a
// client cannot dodge its limits by sending a header of its own. Otherwise
// the result is the rightmost address of the header that is not a
// trusted proxy (the one the first trusted proxy saw). A malformed entry
// stops the walk: the last trusted hop is then the client.
func ClientAddr(remoteAddr string, forwardedFor []string, trusted []netip.Prefix) string {
	peer, ok := parseHost(remoteAddr)
	if !ok {
		return remoteAddr
	}
	if !inAny(peer, trusted) {
		return peer.String()
	}
	var hops []string
	for _, h := range forwardedFor {
		for f := range strings.SplitSeq(h, ",") {
			hops = append(hops, strings.TrimSpace(f))
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHost(hops[i])
		if !ok {
			break
		}
		client = a
		if !inAny(a, trusted) {
			break
		}
	}
	return client.String()
}

// parseHost parses an IP address with or without a port.
func parseHost(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
