package backoff

import (
	"context"
	"testing"
	"time"
)

func TestJitterStaysInHalfOpenRange(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 2, time.Millisecond, time.Second} {
		for range 100 {
			got := Jitter(d)
			if d <= 1 {
				if got != d {
					t.Fatalf("Jitter(%v) = %v, want %v", d, got, d)
				}
				continue
			}
			if got < d/2 || got >= d {
				t.Fatalf("Jitter(%v) = %v, want within [%v, %v)", d, got, d/2, d)
			}
		}
	}
}

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep with a live context: want true")
	}
	if !Sleep(context.Background(), 0) {
		t.Fatal("Sleep(0) with a live context: want true")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep with a cancelled context: want false")
	}
	if Sleep(ctx, 0) {
		t.Fatal("Sleep(0) with a cancelled context: want false")
	}
}
