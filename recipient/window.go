package recipient

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // time zones of quiet hours, also where the system has no zoneinfo
)

// Limits of a Window's Duration, in seconds.
const (
	MaxDailyDuration = 86400    // a daily window lasts at most a day
	MaxOnceDuration  = 31536000 // a one-time window lasts at most 365 days
)

// Window is a time window during which the user's "all" receive option holds (quiet hours,
// setAllReceiveMessageOpt): every day from a wall-clock time in a time zone, or once from a
// unix time, for Duration seconds. A window includes its start and excludes its end.
//
// A daily window starts each day at StartTime on the zone's wall clock and lasts Duration
// seconds of real time, so across a daylight-saving switch it still lasts Duration (a
// 22:00 + 8 h window ends at 05:00 or 07:00 local time on the night the clocks change). On a
// day whose StartTime does not exist (skipped by a spring-forward switch) the window starts
// at the wall-clock time Go's time.Date gives for it, the same time one hour later.
type Window struct {
	Daily bool `json:"daily"`
	// Start is, for a daily window, seconds after local midnight (0..86399); for a one-time
	// window, unix seconds.
	Start    int64  `json:"start"`
	Duration int64  `json:"duration"`           // seconds
	TimeZone string `json:"timeZone,omitempty"` // daily windows: an IANA zone name, "" = UTC

	loc *time.Location
}

// DailyWindow is the window that opens every day at startTime ("HH:MM:SS") in timeZone (an
// IANA name; "" is UTC) for duration seconds (1..MaxDailyDuration). Errors name the field.
func DailyWindow(startTime string, duration int64, timeZone string) (Window, error) {
	start, err := parseClock(startTime)
	if err != nil {
		return Window{}, err
	}
	if duration < 1 || duration > MaxDailyDuration {
		return Window{}, fmt.Errorf("duration: want 1..%d", MaxDailyDuration)
	}
	loc, err := location(timeZone)
	if err != nil {
		return Window{}, err
	}
	return Window{Daily: true, Start: start, Duration: duration, TimeZone: timeZone, loc: loc}, nil
}

// OnceWindow is the window from unix second start for duration seconds
// (1..MaxOnceDuration). Errors name the field.
func OnceWindow(start, duration int64) (Window, error) {
	switch {
	case start < 0 || start > 1<<40:
		return Window{}, fmt.Errorf("startTimestamp: want unix seconds, got %d", start)
	case duration < 1 || duration > MaxOnceDuration:
		return Window{}, fmt.Errorf("duration: want 1..%d", MaxOnceDuration)
	}
	return Window{Start: start, Duration: duration}, nil
}

// WindowSpec is a window as setAllReceiveMessageOpt's body gives it: startTime, duration and
// timeZone (daily) or startTimestamp and duration (once). Nil members are absent.
type WindowSpec struct {
	StartTime      *string `json:"startTime"`
	StartTimestamp *int64  `json:"startTimestamp"`
	Duration       *int64  `json:"duration"`
	TimeZone       *string `json:"timeZone"`
}

// Window is the window s describes, or nil when s has no start (the option is permanent).
// Errors name the member.
func (s WindowSpec) Window() (*Window, error) {
	switch {
	case s.StartTime == nil && s.StartTimestamp == nil:
		if s.Duration != nil {
			return nil, errors.New("duration: needs startTime or startTimestamp")
		}
		if s.TimeZone != nil {
			return nil, errors.New("timeZone: needs startTime")
		}
		return nil, nil
	case s.StartTime != nil && s.StartTimestamp != nil:
		return nil, errors.New("startTime: give startTime (daily) or startTimestamp (once), not both")
	case s.Duration == nil:
		return nil, errors.New("duration: required with a window")
	case s.StartTimestamp != nil && s.TimeZone != nil:
		return nil, errors.New("timeZone: applies to a daily window (startTime) only")
	}
	var w Window
	var err error
	if s.StartTime != nil {
		zone := ""
		if s.TimeZone != nil {
			zone = *s.TimeZone
		}
		w, err = DailyWindow(*s.StartTime, *s.Duration, zone)
	} else {
		w, err = OnceWindow(*s.StartTimestamp, *s.Duration)
	}
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// StartTime is a daily window's start as "HH:MM:SS".
func (w Window) StartTime() string {
	return fmt.Sprintf("%02d:%02d:%02d", w.Start/3600, w.Start/60%60, w.Start%60)
}

// Holds reports whether t is inside the window.
func (w Window) Holds(t time.Time) bool {
	if !w.Daily {
		start := time.Unix(w.Start, 0)
		return !t.Before(start) && t.Before(start.Add(time.Duration(w.Duration)*time.Second))
	}
	loc := w.loc
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := t.In(loc).Date()
	// The window of today, or of yesterday when it runs past midnight.
	for _, day := range [2]int{d, d - 1} {
		start := time.Date(y, m, day, int(w.Start/3600), int(w.Start/60%60), int(w.Start%60), 0, loc)
		if !t.Before(start) && t.Before(start.Add(time.Duration(w.Duration)*time.Second)) {
			return true
		}
	}
	return false
}

// Encode is the window as the presence store keeps it: "d|start|duration|zone" or "o|start|duration".
func (w Window) Encode() string {
	if w.Daily {
		return "d|" + strconv.FormatInt(w.Start, 10) + "|" + strconv.FormatInt(w.Duration, 10) + "|" + w.TimeZone
	}
	return "o|" + strconv.FormatInt(w.Start, 10) + "|" + strconv.FormatInt(w.Duration, 10)
}

// errBadWindow is DecodeWindow's error for a value Encode did not write.
var errBadWindow = errors.New("malformed window")

// DecodeWindow parses Encode's form.
func DecodeWindow(v string) (Window, error) {
	parts := strings.Split(v, "|")
	if len(parts) < 3 {
		return Window{}, errBadWindow
	}
	start, err1 := strconv.ParseInt(parts[1], 10, 64)
	dur, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return Window{}, errBadWindow
	}
	switch {
	case parts[0] == "d" && len(parts) == 4 && start >= 0 && start < 86400:
		loc, err := location(parts[3])
		if err != nil || dur < 1 || dur > MaxDailyDuration {
			return Window{}, errBadWindow
		}
		return Window{Daily: true, Start: start, Duration: dur, TimeZone: parts[3], loc: loc}, nil
	case parts[0] == "o" && len(parts) == 3:
		return OnceWindow(start, dur)
	}
	return Window{}, errBadWindow
}

// parseClock parses "HH:MM:SS" (00:00:00..23:59:59) into seconds after midnight.
func parseClock(s string) (int64, error) {
	bad := errors.New("startTime: want HH:MM:SS")
	if len(s) != 8 || s[2] != ':' || s[5] != ':' {
		return 0, bad
	}
	var n [3]int64
	for i := range n {
		a, b := s[3*i], s[3*i+1]
		if a < '0' || a > '9' || b < '0' || b > '9' {
			return 0, bad
		}
		n[i] = int64(a-'0')*10 + int64(b-'0')
	}
	if n[0] > 23 || n[1] > 59 || n[2] > 59 {
		return 0, bad
	}
	return n[0]*3600 + n[1]*60 + n[2], nil
}

// locations caches loaded time zones by name: a lookup of a user with quiet hours must not
// read the zone database.
var locations sync.Map // string → *time.Location

// location loads the IANA time zone name ("" is UTC). "Local", the server's zone, is not a
// user's zone and is refused.
func location(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, fmt.Errorf("timeZone: unknown %q", name)
	}
	locations.Store(name, l)
	return l, nil
}
