// Package sim simulates an outbound campaign so that pacing strategies can
// be compared and tested: workers, dials answered by people or machines
// after a random ring, calls of log-normal length, and a dialler that
// decides every tick. The same seed gives the same day.
//
// Besides the pacing package as the dialler runs it ([Paced]), it holds
// the baselines it is measured against: [OnePerFree], [FixedRatio] and a
// port of VICIdial's ADAPT_HARD_LIMIT ([Vicidial]).
//
// sim imports only pacing from this module; nothing but tests and
// benchmarks import it.
package sim
