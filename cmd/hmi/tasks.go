package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// task is one long-running part of the process.
type task struct {
	name string
	run  func(context.Context) error
}

// runTasks runs every task until ctx ends or one of them fails; a failure
// cancels the others. It waits for all of them and returns the first
// failure, naming its task; a task that ends with the context's
// cancellation has not failed.
func runTasks(ctx context.Context, tasks ...task) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, t := range tasks {
		wg.Go(func() {
			if err := t.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				once.Do(func() { first = fmt.Errorf("%s: %w", t.name, err) })
				cancel()
			}
		})
	}
	wg.Wait()
	return first
}
