// Package apitype is the wire schema of appstored's API under /api/v1: the
// bodies of requests and answers, the query options of each route, the
// error body and its codes, and the messages of the event stream. The
// daemon's handlers (daemon/api, daemon/events) encode and decode these
// types, and the Go client (package client) sends and reads them, so the
// two sides share one definition and an endpoint is added here first.
//
// Domain objects (a repository, a build, a launch, a service…) are the
// types of package catalog, which carry their JSON tags; they are aliased
// here so that a reader finds the whole schema in one place. The package
// imports only the standard library and catalog.
package apitype
