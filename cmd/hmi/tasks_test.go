package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRunTasks(t *testing.T) {
	boom := errors.New("boom")
	stopped := make(chan struct{})
	err := runTasks(context.Background(),
		task{"waiter", func(ctx context.Context) error { <-ctx.Done(); close(stopped); return ctx.Err() }},
		task{"failer", func(context.Context) error { return boom }},
	)
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "failer: ") {
		t.Fatalf("got %v, want the failer's error, named", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("the failure did not stop the other task")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := runTasks(ctx, task{"waiter", func(ctx context.Context) error { <-ctx.Done(); return context.Canceled }}); err != nil {
		t.Fatalf("a task ended by the context's end failed: %v", err)
	}
}
