// Package restart decides when a dead worker is started again. It is a plain
// type with no process code: the supervisor reports each death and does what
// the Decision says.
//
// The policy tells two kinds of death apart:
//
//   - A worker that had served (answered /health) and was then killed by a
//     SIGKILL the supervisor did not send — the OOM killer, an operator, a
//     kill storm — is not a crash of its code: it restarts at once, every
//     time, and does not count toward a crash loop.
//   - A worker that died before it was ready (a bad build, a missing setting)
//     or crashed on its own after serving counts as a quick death. The first
//     in a row restarts at once; further ones back off exponentially with
//     jitter, capped at Max. From FailAfter quick deaths in a row the slot is
//     reported failed — an alert — yet still retried every Max: there is
//     never a restart storm and never a give-up that needs an operator.
//
// A run that lasts HealthyAfter forgives every earlier death.
//
// restart imports nothing from this module.
package restart
