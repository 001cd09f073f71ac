package web

import (
	"context"
	"sync"
)

// MemoryTags keeps do-not-operate tags in memory: they are lost at a restart, except those the configuration sets
// again. cmd/hmi may replace it with a store-backed Tags.
type MemoryTags struct {
	mu   sync.Mutex // guards tags
	tags map[string]Tag
}

// NewMemoryTags returns tags starting with initial (copied).
func NewMemoryTags(initial map[string]Tag) *MemoryTags {
	m := &MemoryTags{tags: make(map[string]Tag, len(initial))}
	for k, v := range initial {
		if v.On {
			m.tags[k] = v
		}
	}
	return m
}

// Tag returns the tag of a point; the zero Tag when it has none.
func (m *MemoryTags) Tag(point string) Tag {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tags[point]
}

// SetTag sets (t.On) or clears a point's tag.
func (m *MemoryTags) SetTag(_ context.Context, point string, t Tag) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.On {
		m.tags[point] = t
	} else {
		delete(m.tags, point)
	}
	return nil
}
