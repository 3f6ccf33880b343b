package bot

import "fmt"

// cleaned applies CleanText, the one inbound rule, to the text of a
// notification: every label and annotation (names and values), the
// common and group labels, and the URLs. It leaves alone what
// Alertmanager uses to tell groups and alerts apart (receiver, groupKey,
// fingerprints): those are identities, compared as sent, so two groups
// whose labels differ only by a control character stay two groups (two
// incidents that read alike) and an alert keeps its fingerprint. It
// returns n itself when nothing needed cleaning, and never changes n.
//
// Two names of one map that clean to the same name are refused (errors
// wrap ErrInvalid): keeping either value would drop the other silently.
func (n *Notification) cleaned() (*Notification, error) {
	if n.clean() {
		return n, nil
	}
	out := *n
	var err error
	var changed bool
	if out.GroupLabels, changed, err = cleanPairs("groupLabels", n.GroupLabels); err != nil {
		return nil, err
	}
	out.groupLabelsCleaned = changed
	if out.CommonLabels, _, err = cleanPairs("commonLabels", n.CommonLabels); err != nil {
		return nil, err
	}
	if out.CommonAnnotations, _, err = cleanPairs("commonAnnotations", n.CommonAnnotations); err != nil {
		return nil, err
	}
	out.ExternalURL = CleanText(n.ExternalURL)
	out.Alerts = make([]Alert, len(n.Alerts))
	for i, a := range n.Alerts {
		if a.Labels, _, err = cleanPairs(fmt.Sprintf("alerts[%d].labels", i), a.Labels); err != nil {
			return nil, err
		}
		if a.Annotations, _, err = cleanPairs(fmt.Sprintf("alerts[%d].annotations", i), a.Annotations); err != nil {
			return nil, err
		}
		a.GeneratorURL = CleanText(a.GeneratorURL)
		out.Alerts[i] = a
	}
	return &out, nil
}

// clean reports whether no text of n needs cleaning: the common case,
// checked without allocating.
func (n *Notification) clean() bool {
	if dirty(n.ExternalURL) || dirtyPairs(n.GroupLabels) || dirtyPairs(n.CommonLabels) || dirtyPairs(n.CommonAnnotations) {
		return false
	}
	for _, a := range n.Alerts {
		if dirty(a.GeneratorURL) || dirtyPairs(a.Labels) || dirtyPairs(a.Annotations) {
			return false
		}
	}
	return true
}

func dirty(s string) bool { return hasUnwanted(s) }

func dirtyPairs(m map[string]string) bool {
	for k, v := range m {
		if dirty(k) || dirty(v) {
			return true
		}
	}
	return false
}

// cleanPairs cleans names and values of m, into a new map when any
// changed (reported by changed).
func cleanPairs(field string, m map[string]string) (_ map[string]string, changed bool, _ error) {
	if !dirtyPairs(m) {
		return m, false, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		ck := CleanText(k)
		if ck == "" {
			return nil, false, fmt.Errorf("%w: %s: the name %s is only control characters", ErrInvalid, field, Quote(k))
		}
		if _, ok := out[ck]; ok {
			return nil, false, fmt.Errorf("%w: %s: two names read %s once control characters are removed", ErrInvalid, field, Quote(ck))
		}
		out[ck] = CleanText(v)
	}
	return out, true, nil
}
