package pipeline

// Kill stops p as a crash would: no drain, no final commit.
func (p *Pipeline) Kill() { p.kill() }
