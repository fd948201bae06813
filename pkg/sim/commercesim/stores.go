package commercesim

import "net/http"

// hStoreViews answers GET V1/store/storeViews: every store view including
// the admin store (id 0), as Magento\Store\Api\StoreRepositoryInterface
// lists them. Clients map a store code to the numeric store_id that orders
// and invoices carry.
func (s *Server) hStoreViews(*apiRequest) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	views := []Object{{
		{"id", 0}, {"code", "admin"}, {"name", "Admin"}, {"website_id", 0}, {"store_group_id", 0}, {"is_active", 1},
	}}
	for _, st := range s.stores {
		views = append(views, Object{
			{"id", st.ID}, {"code", st.Code}, {"name", st.Name}, {"website_id", st.WebsiteID},
			{"store_group_id", st.WebsiteID}, {"is_active", 1},
		})
	}
	return http.StatusOK, views
}
