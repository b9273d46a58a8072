package api

// RouteInfo is one line of the route table, for tests outside the package.
type RouteInfo struct {
	Method, Path, Guard string
}

// RouteTable returns the route table of s.
func RouteTable(s *Server) []RouteInfo {
	s.defaults()
	var out []RouteInfo
	for _, r := range s.routes() {
		out = append(out, RouteInfo{Method: r.method, Path: r.path, Guard: r.guard.String()})
	}
	return out
}
