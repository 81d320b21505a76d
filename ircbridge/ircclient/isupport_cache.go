package ircclient

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"weak"
)

// ISupportCache lets connections share equal ISUPPORT snapshots: a gateway
// has one connection per user to each IRC server, and every one of them
// receives the same 005 lines. Give the same cache to every Config
// (Config.ISupportCache); a snapshot is kept only while a connection uses
// it. The zero value is ready to use and safe for concurrent use.
type ISupportCache struct {
	mu    sync.Mutex
	m     map[string]weak.Pointer[ISupport]
	sweep int // sweep dead entries when the map grows past this
}

// intern returns the cached snapshot with the same tokens as is, caching
// is if there is none.
func (c *ISupportCache) intern(is *ISupport) *ISupport {
	key := is.key()
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[key].Value(); old != nil {
		return old
	}
	if c.m == nil {
		c.m = make(map[string]weak.Pointer[ISupport])
	}
	c.m[key] = weak.Make(is)
	if len(c.m) > max(c.sweep, 64) {
		for k, v := range c.m {
			if v.Value() == nil {
				delete(c.m, k)
			}
		}
		c.sweep = 2 * len(c.m)
	}
	return is
}

// key serializes the tokens of is unambiguously, in a stable order.
func (is *ISupport) key() string {
	names := make([]string, 0, len(is.tokens))
	for name := range is.tokens {
		names = append(names, name)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		v := is.tokens[name]
		b.WriteString(strconv.Itoa(len(name)))
		b.WriteByte(':')
		b.WriteString(name)
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
	}
	return b.String()
}
