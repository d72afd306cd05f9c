package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OnDemandConfig configures the on-demand round trips: L2 asking for a
// fresh snapshot through the collector's API, POST
// /api/v1/agents/{id}/snapshots, which returns once the agent answered and
// the snapshot is stored.
type OnDemandConfig struct {
	API string // base URL, http://127.0.0.1:7080
	Key string // an API key with role l2 or above
	// Rate is requests a second. The API allows 20 a second per key
	// (bursts of 100); above it, 429s are counted, not timed.
	Rate        float64
	Count       int           // requests in all
	Concurrency int           // requests under way at most; one due while it is reached is counted as not sent
	Timeout     time.Duration // the request body's timeout; default 30 s
	Probes      []string      // probes to ask for; none: a full snapshot
}

// OnDemandResult is what the round trips measured.
type OnDemandResult struct {
	Latency     Summary // 201s only: request sent to stored snapshot returned
	OK          int64
	RateLimited int64
	NotSent     int64 // Concurrency was reached
	Failed      []Count
}

// OnDemand sends cfg.Count requests at cfg.Rate to agents picked at random
// among ids.
func OnDemand(ctx context.Context, cfg OnDemandConfig, ids []string) (OnDemandResult, error) {
	if len(ids) == 0 {
		return OnDemandResult{}, errors.New("on-demand: no agent is connected")
	}
	if cfg.API == "" || cfg.Key == "" {
		return OnDemandResult{}, errors.New("on-demand: needs the collector's API address and an API key (l2)")
	}
	if cfg.Rate <= 0 || cfg.Count <= 0 || cfg.Concurrency <= 0 {
		return OnDemandResult{}, errors.New("on-demand: rate, count and concurrency must be positive")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	body, err := json.Marshal(map[string]any{"timeout": cfg.Timeout.String(), "probes": cfg.Probes})
	if err != nil {
		return OnDemandResult{}, fmt.Errorf("on-demand: encoding the body: %w", err)
	}
	hc := &http.Client{Timeout: cfg.Timeout + 10*time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency, MaxConnsPerHost: cfg.Concurrency}}
	defer hc.CloseIdleConnections()
	var (
		res  OnDemandResult
		lat  Latencies
		errs errCounter
		ok   atomic.Int64
		rl   atomic.Int64
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, cfg.Concurrency)
	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
	defer tick.Stop()
	base := strings.TrimSuffix(cfg.API, "/")
	for range cfg.Count {
		select {
		case <-tick.C:
		case <-ctx.Done():
			wg.Wait()
			return res, fmt.Errorf("on-demand: %w", ctx.Err())
		}
		select {
		case sem <- struct{}{}:
		default:
			res.NotSent++
			continue
		}
		id := ids[rand.IntN(len(ids))]
		wg.Go(func() {
			defer func() { <-sem }()
			start := time.Now()
			status, err := post(ctx, hc, base+"/api/v1/agents/"+id+"/snapshots", cfg.Key, body)
			switch {
			case err != nil:
				errs.note("request", err)
			case status == http.StatusCreated:
				ok.Add(1)
				lat.Add(time.Since(start))
			case status == http.StatusTooManyRequests:
				rl.Add(1)
			default:
				errs.note(fmt.Sprintf("HTTP %d", status), nil)
			}
		})
	}
	wg.Wait()
	res.OK, res.RateLimited, res.Latency, res.Failed = ok.Load(), rl.Load(), lat.Summary(), errs.top()
	return res, nil
}

// maxAnswer bounds what is read of an answer: a stored snapshot.
const maxAnswer = 64 << 20

// post sends body and reads the whole answer, as a client showing it would.
func post(ctx context.Context, hc *http.Client, url, key string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("on-demand: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("on-demand: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer)); err != nil {
		return resp.StatusCode, fmt.Errorf("on-demand: reading the answer: %w", err)
	}
	return resp.StatusCode, nil
}
