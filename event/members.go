package event

// ToMembers reports whether the message goes to its group's current members, minus the
// sender, rather than to a list of recipients: a group event without recipients (absent or
// null). offpush resolves the members from its membership store when it fans out; a dead
// letter of such an event carries the one recipient it failed for (Narrow), so a replay
// never resolves the group again.
func (m *Message) ToMembers() bool {
	return m.ChatType == Group && m.Recipients == nil
}

// checkRecipients: c2c events need 1..MaxRecipients recipients; a group event has them or
// leaves them out (ToMembers), but an empty list is an error, as it would push to no one.
func (m *Message) checkRecipients() error {
	if m.ToMembers() {
		return nil
	}
	if m.ChatType == Group && len(m.Recipients) == 0 {
		return fieldErr("recipients", "must not be empty (leave it out to push to the group's members)")
	}
	return checkUsers("recipients", m.Recipients, true)
}
