package presence

import "offpush/recipient"

// Recipient is everything the pipeline needs about one recipient user.
type Recipient struct {
	UserID   string
	Settings recipient.Settings
	Devices  []recipient.Device
}
