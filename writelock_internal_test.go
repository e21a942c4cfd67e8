package watchedfile

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQueuedRecordGoesWithTheNextBatch holds the bound on a queued caller's
// wait that docs/how-it-works.md gives (no caller starves): the holder
// writes every record queued before its first batch in that batch, and
// every record queued while a batch is being written in the batch after it.
func TestQueuedRecordGoesWithTheNextBatch(t *testing.T) {
	var batches [][]byte
	writing := make(chan struct{}) // the first batch is under way
	goOn := make(chan struct{})    // let it end
	l := &writeLock{group: true}
	l.write = func(ws []*waiter) {
		var batch []byte
		for _, wt := range ws {
			batch = append(batch, wt.p...)
			wt.n = len(wt.p)
		}
		batches = append(batches, batch)
		if len(batches) == 1 {
			close(writing)
			<-goOn
		}
	}
	queued := func() int {
		n := 0
		for wt := l.queue.top.Load(); wt != nil; wt = wt.next {
			n++
		}
		return n
	}
	var wg sync.WaitGroup
	follow := func(from, to byte) {
		for b := from; b < to; b++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := l.follow([]byte{b})
				assert.NoError(t, err)
				assert.Equal(t, 1, n)
			}()
		}
	}

	l.lock()
	follow(0, 8) // queued before the holder lets go
	require.Eventually(t, func() bool { return queued() == 8 }, 10*time.Second, time.Millisecond)
	led := make(chan bool)
	go func() { led <- l.lead() }()
	<-writing
	follow(8, 16) // queued while the first batch is written
	require.Eventually(t, func() bool { return queued() == 8 }, 10*time.Second, time.Millisecond)
	close(goOn)
	assert.True(t, <-led, "the holder wrote the queue")
	wg.Wait()

	require.Len(t, batches, 2, "%v", batches)
	assert.ElementsMatch(t, []byte{0, 1, 2, 3, 4, 5, 6, 7}, batches[0])
	assert.ElementsMatch(t, []byte{8, 9, 10, 11, 12, 13, 14, 15}, batches[1])
	assert.True(t, l.tryLock(), "the lock is free again")
}
