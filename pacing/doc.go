// Package pacing decides how many calls a predictive dialler places on each
// tick. It is pure logic with no I/O: the dialler feeds it what it observes
// (free and busy workers, calls ringing, the outcome of every dial, every
// abandon) and asks it for a number of dials.
//
// The model: an [Estimator] learns, with exponential forgetting, the chance
// that a dial is answered by a person or a machine (a long and a quick
// memory; the pacer plans with the higher), how long answered calls ring,
// and the distribution of handle times (log-normal, fitted to the ended
// calls and to the calls in progress as right-censored observations).
// [Pacer] looks one ring timeout ahead: for each second it predicts how many
// workers will be free (free now, plus calls in progress that will have
// ended, minus ringing calls that will have been answered, with the answer
// rate's own uncertainty) and places dials while the chance that the last
// dial's answer finds no free worker stays under a threshold. The threshold
// is steered by the abandon rate actually observed so that it settles on a
// target below the legal cap — lower for a campaign whose hour holds few
// answers, so that chance alone keeps the hour under the cap — and a guard
// falls back to dialling only for workers that will certainly be free
// whenever the rolling hour, the 24 hours or the 30 days come near the cap.
//
// Before each decision, [Pacer.Prune] names the dials to hang up: those that
// have rung the least ring the law requires (with a margin) and whose answer
// would now, with what the tick knows, likely find no free worker — counts
// of answers and of workers released taken as Poisson. A hung-up dial is a
// censored observation of the answer rate ([Estimator.ObserveHungUp]).
//
// pacing imports nothing from this module.
package pacing
