//go:build go1.25

package main

import (
	"net/http"
	"runtime/trace"
	"time"
)

func init() {
	startFlight = func(mux *http.ServeMux) error {
		fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{
			MinAge:   5 * time.Second,
			MaxBytes: 16 << 20,
		})
		if err := fr.Start(); err != nil {
			return err
		}
		// The flight recorder's window as a standard trace file.
		mux.HandleFunc("/debug/flight", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			if _, err := fr.WriteTo(w); err != nil {
				// Headers may be out already; the client sees a short body.
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		})
		return nil
	}
}
