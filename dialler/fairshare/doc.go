// Package fairshare splits the free workers of a pool between the
// campaigns that dial into it, by weighted deficit round robin: over many
// ticks each campaign with contacts to dial gets free workers in proportion
// to its weight, a campaign that wants fewer leaves the rest to the others,
// and the deficit carried between ticks keeps small pools fair too. A
// campaign over its abandon budget takes its share of free workers but no
// predictive share: it may place at most one dial per free worker of its
// share (see Claim.Predictive and Limit).
//
// fairshare is pure and imports nothing from this module.
package fairshare
