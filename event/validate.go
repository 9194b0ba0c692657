package event

import (
	"fmt"
	"net/url"
)

// Validate checks the decoded message against the contract; Decode calls it. It is exported
// for producers (offpush publish, tests) that build messages in Go.
func (m *Message) Validate() error {
	if err := checkID("id", m.ID); err != nil {
		return err
	}
	switch m.ChatType {
	case C2C, Group:
	case "":
		return fieldErr("chatType", "required")
	default:
		return fieldErr("chatType", "unknown %q (want c2c or group)", m.ChatType)
	}
	if err := checkID("sender.userId", m.Sender.UserID); err != nil {
		return err
	}
	if m.ChatType == Group {
		if m.Group == nil {
			return fieldErr("group", "required for chatType group")
		}
		if err := checkID("group.id", m.Group.ID); err != nil {
			return err
		}
	}
	if err := m.checkRecipients(); err != nil {
		return err
	}
	if err := checkUsers("atUserIds", m.AtUserIDs, false); err != nil {
		return err
	}
	switch m.Kind {
	case "", KindMessage:
		if m.Revokes != "" {
			return fieldErr("revokes", "only in a revoke (kind revoke)")
		}
	case KindRevoke:
		if err := checkID("revokes", m.Revokes); err != nil {
			return err
		}
		if m.Revokes == m.ID {
			return fieldErr("revokes", "a revoke cannot recall itself")
		}
		return nil // a revoke has no elems or push options to check
	default:
		return fieldErr("kind", "unknown %q (want message or revoke)", m.Kind)
	}
	if err := m.validateElems(); err != nil {
		return err
	}
	if p := m.OfflinePush; p != nil {
		return p.validate()
	}
	return nil
}

// validate checks the enumerations and the image URL of offlinePush.
func (p *OfflinePush) validate() error {
	switch p.PushFlag {
	case "", PushDefault, NoPush:
	default:
		return fieldErr("offlinePush.pushFlag", "unknown %q (want default or noPush)", p.PushFlag)
	}
	switch p.Priority {
	case "", PriorityHigh, PriorityNormal:
	default:
		return fieldErr("offlinePush.priority", "unknown %q (want high or normal)", p.Priority)
	}
	ios := p.IOS
	if ios == nil {
		return nil
	}
	switch ios.PushType {
	case "", PushAPNs, PushVoIP:
	default:
		return fieldErr("offlinePush.ios.pushType", "unknown %q (want apns or voip)", ios.PushType)
	}
	switch ios.InterruptionLevel {
	case "", Passive, Active, TimeSensitive, Critical:
	default:
		return fieldErr("offlinePush.ios.interruptionLevel", "unknown %q (want passive, active, time-sensitive or critical)", ios.InterruptionLevel)
	}
	if ios.Image != "" {
		if len(ios.Image) > MaxImageURLLen {
			return fieldErr("offlinePush.ios.image", "longer than %d bytes", MaxImageURLLen)
		}
		u, err := url.Parse(ios.Image)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fieldErr("offlinePush.ios.image", "want an absolute http or https URL")
		}
	}
	return nil
}

func (m *Message) validateElems() error {
	if len(m.Elems) == 0 {
		return fieldErr("elems", "must not be empty")
	}
	if len(m.Elems) > MaxElems {
		return fieldErr("elems", "%d elements, at most %d allowed", len(m.Elems), MaxElems)
	}
	for i, e := range m.Elems {
		if e.Type == "" {
			return fieldErr(fmt.Sprintf("elems[%d].type", i), "required")
		}
		if !knownElemTypes[e.Type] {
			return fieldErr(fmt.Sprintf("elems[%d].type", i), "unknown %q", e.Type)
		}
	}
	return nil
}

func checkID(field, id string) error {
	if id == "" {
		return fieldErr(field, "required")
	}
	if len(id) > MaxIDLen {
		return fieldErr(field, "longer than %d bytes", MaxIDLen)
	}
	return nil
}

func checkUsers(field string, ids []string, required bool) error {
	if len(ids) == 0 {
		if required {
			return fieldErr(field, "must not be empty")
		}
		return nil
	}
	if len(ids) > MaxRecipients {
		return fieldErr(field, "%d entries, at most %d allowed", len(ids), MaxRecipients)
	}
	for i, id := range ids {
		if id == "" || len(id) > MaxIDLen { // the field's name is formatted only for the error
			return checkID(fmt.Sprintf("%s[%d]", field, i), id)
		}
	}
	return nil
}
