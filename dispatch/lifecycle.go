// Package dispatch runs jobs: it owns every status change (the transition
// function in this file), claims ready jobs, routes them, launches them
// through executors, watches them to the end, retries, times out and
// cancels them, and reconciles. Any number of replicas may run it against
// one database.
package dispatch

import (
	"slices"

	st "github.com/gantry/gantry/ent/schematype"
)

// transitions is DESIGN.md's state machine: from -> allowed next statuses.
var transitions = map[st.JobStatus][]st.JobStatus{
	st.StatusPending:    {st.StatusQueued, st.StatusCancelled},
	st.StatusQueued:     {st.StatusLaunching, st.StatusCancelled},
	st.StatusLaunching:  {st.StatusRunning, st.StatusCancelling, st.StatusRetrying, st.StatusFailed},
	st.StatusRunning:    {st.StatusCompleted, st.StatusFailed, st.StatusTimeout, st.StatusCancelling, st.StatusRetrying},
	st.StatusCancelling: {st.StatusCancelled},
	st.StatusRetrying:   {st.StatusQueued, st.StatusFailed},
}

// explicitRetry are the terminal statuses retryJob may take back to queued.
var explicitRetry = []st.JobStatus{st.StatusFailed, st.StatusTimeout, st.StatusCancelled}

// Allowed reports whether a job may go from one status to another.
// Terminal statuses never change, except through an explicit retry.
func Allowed(from, to st.JobStatus, explicit bool) bool {
	if explicit {
		return to == st.StatusQueued && slices.Contains(explicitRetry, from)
	}
	return slices.Contains(transitions[from], to)
}

// holdsSlot reports whether a job in status s occupies a host slot.
func holdsSlot(s st.JobStatus) bool {
	return s == st.StatusLaunching || s == st.StatusRunning || s == st.StatusCancelling
}
