package dispatch

// Notification channels on PostgreSQL.
const (
	chanWork   = "gantry_work"   // a job became ready or a slot was freed
	chanEvents = "gantry_events" // events committed; payload: newest sequence
)
