// Package restart decides when a dead worker is started again. It is a plain
// type with no process code: the supervisor reports each death and does what
// the Decision says.
//
// The policy: the first death after a healthy run restarts at once; repeated
// quick deaths back off exponentially with jitter; MaxDeaths quick deaths
// within Window give up (the slot shows "failed" until an operator acts). A
// run that lasts HealthyAfter forgives every earlier death. There is never a
// restart storm and never a silent give-up.
//
// restart imports nothing from this module.
package restart
