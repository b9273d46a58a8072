package api

import "net/http"

// route is one line of the route table.
type route struct {
	method  string // "" answers every method
	path    string // a net/http.ServeMux path pattern
	guard   guardKind
	handler http.HandlerFunc
}

// Methods, short so that the table lines up.
const (
	GET    = http.MethodGet
	POST   = http.MethodPost
	PATCH  = http.MethodPatch
	PUT    = http.MethodPut
	DELETE = http.MethodDelete
	ANY    = ""
)

// routes is every route of a process with the api role.
//
// A request goes through, in order (Server.Handler):
//
//  1. the preview hosts: a request for <slug>.<preview-domain>, or for
//     /apps/<slug>/ on one of the daemon's own names, goes to the runner's
//     preview proxy (Previews), which keeps its own host rules and the
//     app's headers; nothing below applies to it;
//  2. the body deadline (bodytimeout.go) and the Host guard: a Host that is
//     not a name of this daemon is refused (DNS rebinding), on every route
//     and on the 404s;
//  3. this table: the route's guard (guard.go: read, mutating, launching,
//     owned, adminOnly, serviceToken, signed, websocket, byMethod; who may
//     do what is in actor.go), then its handler, whose request context
//     carries the actor (catalog.ActorFrom).
func (s *Server) routes() []route {
	repos, hooks, builds, launches, search, services := s.Repositories, s.Webhooks, s.Builds, s.Launches, s.Search, s.Services
	thumbs, accounts, appcfg, volumes := s.Thumbnails, s.Accounts, s.AppConfig, s.Volumes
	events, web := s.eventStream(), s.webView()
	return []route{
		// Health, readiness and metrics, for supervisors and scrapers.
		// Processes without the api role serve these four only
		// (healthRoutes).
		{GET, "/healthz", read, s.healthz},
		{GET, "/readyz", read, s.readyz},
		{GET, "/metrics", read, s.metricsHandler().ServeHTTP},
		{GET, "/api/v1/version", read, s.version},

		// Repositories and their tags (repositories.go, tags.go).
		{POST, "/api/v1/repositories", mutating, repos.create},
		{GET, "/api/v1/repositories", read, repos.list},
		{GET, "/api/v1/repositories/{slug}", read, repos.get},
		{PATCH, "/api/v1/repositories/{slug}", owned, repos.update},
		{DELETE, "/api/v1/repositories/{slug}", owned, repos.delete},
		{POST, "/api/v1/repositories/{slug}/refresh", owned, repos.refresh},
		{GET, "/api/v1/repositories/{slug}/events", read, repos.timeline},
		{GET, "/api/v1/repositories/{slug}/readme", read, repos.readme},
		{GET, "/api/v1/tags", read, repos.listTags},

		// Push webhooks of GitHub, GitLab and Gitea, authenticated by
		// their signature (webhooks.go).
		{POST, "/api/v1/webhooks/git", signed, hooks.push},

		// Builds (builds.go).
		{POST, "/api/v1/repositories/{slug}/builds", owned, builds.create},
		{GET, "/api/v1/repositories/{slug}/builds", read, builds.list},
		{GET, "/api/v1/builds/{id}", read, builds.get},
		{GET, "/api/v1/builds/{id}/logs", read, builds.logs},
		{POST, "/api/v1/builds/{id}/cancel", owned, builds.cancel},

		// Launches (launches.go); the runner does the work.
		{POST, "/api/v1/repositories/{slug}/launches", launching, launches.create},
		{GET, "/api/v1/launches", read, launches.list},
		{GET, "/api/v1/launches/{id}", read, launches.get},
		{DELETE, "/api/v1/launches/{id}", ownLaunch, launches.stop},
		{GET, "/api/v1/launches/{id}/logs", read, launches.logs},

		// An app's variables and secrets (appconfig.go): no route answers
		// a secret's value.
		{GET, "/api/v1/repositories/{slug}/env", read, appcfg.getEnv},
		{PATCH, "/api/v1/repositories/{slug}/env", owned, appcfg.changeEnv},
		{GET, "/api/v1/repositories/{slug}/secrets", read, appcfg.listSecrets},
		{PUT, "/api/v1/repositories/{slug}/secrets/{name}", owned, appcfg.putSecret},
		{DELETE, "/api/v1/repositories/{slug}/secrets/{name}", owned, appcfg.deleteSecret},

		// Screenshots of the apps for their cards (thumbnails.go); the
		// runner's browser takes them.
		{GET, "/api/v1/repositories/{slug}/thumbnail", read, thumbs.get},
		{POST, "/api/v1/repositories/{slug}/thumbnail", owned, thumbs.refresh},

		// Usage statistics, stars and comments (community.go).
		{GET, "/api/v1/repositories/{slug}/stats", read, s.Community.stats},
		{GET, "/api/v1/repositories/{slug}/star", read, s.Community.starState},
		{GET, "/api/v1/repositories/{slug}/stargazers", read, s.Community.stargazers},
		{POST, "/api/v1/repositories/{slug}/star", mutating, s.Community.star},
		{DELETE, "/api/v1/repositories/{slug}/star", mutating, s.Community.unstar},
		{GET, "/api/v1/repositories/{slug}/comments", read, s.Community.comments},
		{POST, "/api/v1/repositories/{slug}/comments", mutating, s.Community.addComment},
		{DELETE, "/api/v1/comments/{id}", mutating, s.Community.deleteComment},

		// Accounts, personal tokens and who is asking (users.go; who may
		// do what: actor.go).
		{GET, "/api/v1/whoami", read, accounts.whoami},
		{GET, "/api/v1/users", read, accounts.list},
		{POST, "/api/v1/users", adminOnly, accounts.create},
		{DELETE, "/api/v1/users/{name}", adminOnly, accounts.delete},
		{POST, "/api/v1/users/{name}/token", self, accounts.token},

		// The apps' data volumes (volumes.go); the runner holds them.
		{GET, "/api/v1/volumes", read, volumes.list},
		{DELETE, "/api/v1/repositories/{slug}/volume", owned, volumes.remove},

		// Search and autocomplete (search.go).
		{GET, "/api/v1/search", read, search.search},
		{GET, "/api/v1/autocomplete", read, search.autocomplete},

		// The service registry: open to read, written with the service
		// token (services.go).
		{GET, "/api/v1/services", read, services.list},
		{GET, "/api/v1/services/{slug}", read, services.get},
		{POST, "/api/v1/services", serviceToken, services.create},
		{PATCH, "/api/v1/services/{slug}", serviceToken, services.update},
		{DELETE, "/api/v1/services/{slug}", serviceToken, services.delete},
		{POST, "/api/v1/services/import", serviceToken, services.importManifest},

		// The event stream (daemon/events).
		{GET, "/api/v1/events", websocket, events.ServeEvents},
		{GET, "/api/v1/events/last", read, events.ServeLast},

		// The web view (daemon/web). Not /apps/…: that is the preview
		// proxy's path.
		{GET, "/{$}", read, web.ServePage},
		{GET, "/add", read, web.ServePage},
		{GET, "/app/{slug}", read, web.ServeAppPage},
		{GET, "/static/", read, web.ServeStatic},

		// Anything else.
		{ANY, "/api/", byMethod, s.noRoute},
		{ANY, "/", byMethod, http.NotFound},
	}
}

// healthRoutes is every route of a process without the api role: the
// first four of the table, then a refusal that names the roles it runs.
func (s *Server) healthRoutes() []route {
	return append(s.routes()[:4:4], route{ANY, "/", byMethod, s.notAnAPIProcess})
}
