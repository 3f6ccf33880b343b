package slack

import (
	"strings"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

// The block and action IDs of the declare form's inputs.
const (
	declareTitle    = "title"
	declareSeverity = "severity"
	declareText     = "description"
	declareLead     = "lead"
)

// DeclareView is the form that declares an incident (bot.CallbackDeclare):
// title, severity (SEV3 preselected), what is known so far, and the lead
// (the declarer when left empty). Paging is not on the form: once the
// channel exists, /incident page starts a team's escalation.
func DeclareView() slackgo.ModalViewRequest {
	title := slackgo.NewPlainTextInputBlockElement(plain("Checkout returns 502 for some users"), declareTitle)
	title.MaxLength = 200
	var opts []*slackgo.OptionBlockObject
	for _, s := range []bot.Severity{bot.SEV1, bot.SEV2, bot.SEV3, bot.SEV4} {
		opts = append(opts, slackgo.NewOptionBlockObject(s.String(), plain(severityIcon(s)+" "+s.String()), nil))
	}
	sev := slackgo.NewOptionsSelectBlockElement(slackgo.OptTypeStatic, plain("Severity"), declareSeverity, opts...)
	sev.InitialOption = opts[2]
	text := slackgo.NewPlainTextInputBlockElement(nil, declareText)
	text.Multiline, text.MaxLength = true, 3000
	lead := slackgo.NewOptionsSelectBlockElement(slackgo.OptTypeUser, plain("You, unless you pick someone"), declareLead)
	return slackgo.ModalViewRequest{
		Type: slackgo.VTModal, CallbackID: bot.CallbackDeclare,
		Title: plain("Declare an incident"), Submit: plain("Declare"), Close: plain("Cancel"),
		Blocks: slackgo.Blocks{BlockSet: []slackgo.Block{
			slackgo.NewInputBlock(declareTitle, plain("Title"), nil, title),
			slackgo.NewInputBlock(declareSeverity, plain("Severity"), nil, sev),
			slackgo.NewInputBlock(declareText, plain("What is known so far"), nil, text).WithOptional(true),
			slackgo.NewInputBlock(declareLead, plain("Lead"), nil, lead).WithOptional(true),
			slackgo.NewContextBlock("", mrkdwn("To page a team, use `/incident page <team>` in the incident's channel once it is open.")),
		}},
	}
}

// Declaration is what a submitted declare form asks for.
type Declaration struct {
	Title, Description, Lead string
	Severity                 bot.Severity
}

// DeclarationFrom reads a submitted declare form.
func DeclarationFrom(state *slackgo.ViewState) Declaration {
	var d Declaration
	if state == nil {
		return d
	}
	v := state.Values
	d.Title = strings.TrimSpace(v[declareTitle][declareTitle].Value)
	d.Description = strings.TrimSpace(v[declareText][declareText].Value)
	d.Lead = v[declareLead][declareLead].SelectedUser
	if s, err := bot.ParseSeverity(v[declareSeverity][declareSeverity].SelectedOption.Value); err == nil {
		d.Severity = s
	}
	return d
}
