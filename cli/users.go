package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// UsersOptions are the inputs of the "appstore users" commands.
type UsersOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions
	// Now is the time relative times are computed from (tests fix it).
	Now func() time.Time

	Name string
	// Role of add: admin, member or viewer ("" is member).
	Role string
	// Yes skips rm's confirmation on a terminal.
	Yes bool
	// Reassign names the user who takes over the apps rm's account owns.
	Reassign string
}

// NewCmdUsers builds "appstore users" and its subcommands.
func NewCmdUsers(f *Factory) *cobra.Command {
	newOpts := func() *UsersOptions {
		return &UsersOptions{IO: f.IO, Client: f.Client, Output: f.Output(), Now: time.Now}
	}
	cmd := &cobra.Command{
		Use:     "users [command]",
		Aliases: []string{"user"},
		Short:   "Accounts and their personal tokens",
		Long: `Accounts of the people who use appstored, each with a role and a personal
token. Without a command, users lists them.

Roles: admin (everything, users and services included), member (add apps,
launch, star, comment, and edit and remove the apps they own), viewer (read
and launch previews). A person passes their token as APPSTORE_TOKEN or
--token; the daemon token (appstored --token) is an admin's.

add and token print the new token once, alone on standard output; the daemon
keeps only its hash. A daemon without accounts and without --token lets
anyone who reaches it do everything (it listens on loopback only); its
first admin is made with "appstored users add" on the server.`,
		Example: `  appstore users add alice --role admin
  TOKEN=$(appstore users add bob)
  appstore users
  appstore users token bob
  appstore users rm bob`,
		Args: noUnknownSubcommand,
	}
	lsCmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the accounts",
		Long: `List the accounts by name. On a terminal: a table; in a pipe: tab-separated
name, role, who added it and when (RFC 3339), and when its token was made.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUsersList(cmd.Context(), newOpts())
		},
	}
	cmd.RunE = lsCmd.RunE

	role := ""
	addCmd := &cobra.Command{
		Use:   "add <name>",
		Short: "Add an account and print its personal token (admins only)",
		Long: `Add an account with a role (member unless --role says otherwise) and print
its personal token, once, alone on standard output. Give the token to its
person; they use it as APPSTORE_TOKEN. Names are lower-case letters, digits,
'-', '_' and '.'.`,
		Example: `  appstore users add alice --role admin
  appstore users add bob --role viewer`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := newOpts()
			o.Name, o.Role = args[0], role
			return runUsersAdd(cmd.Context(), o)
		},
	}
	addCmd.Flags().StringVar(&role, "role", "member", "the account's `role`: admin, member or viewer")

	tokenCmd := &cobra.Command{
		Use:   "token <name>",
		Short: "Replace an account's personal token and print the new one",
		Long: `Make a new personal token for the account and print it, once, alone on
standard output. The old token stops working at once. Admins may replace
anyone's token; others their own.`,
		Example: `  appstore users token bob`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := newOpts()
			o.Name = args[0]
			return runUsersToken(cmd.Context(), o)
		},
	}

	yes, reassign := false, ""
	rmCmd := &cobra.Command{
		Use:     "rm <name>",
		Aliases: []string{"remove", "delete"},
		Short:   "Remove an account (admins only)",
		Long: `Remove an account: its token stops working at once, its stars go with it
and its comments stay, shown as a removed user's. An account that owns apps
is removed only with --reassign <user>, who takes them over in the same
step; without it rm refuses, says how many apps, and changes nothing (or
hand them over one by one first with "appstore edit <slug> --owner <user>";
"appstore search owner:<name>" lists them). On a terminal rm asks for
confirmation unless --yes is given.`,
		Example: `  appstore users rm bob --yes
  appstore users rm bob --reassign alice`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := newOpts()
			o.Name, o.Yes, o.Reassign = args[0], yes, reassign
			return runUsersRm(cmd.Context(), o)
		},
	}
	rmCmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	rmCmd.Flags().StringVar(&reassign, "reassign", "", "hand the apps the account owns over to this `user`")

	cmd.AddCommand(lsCmd, addCmd, tokenCmd, rmCmd)
	return cmd
}

func runUsersList(ctx context.Context, o *UsersOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	list, err := c.Users(ctx)
	if err != nil {
		return err
	}
	if done, err := writeList(ctx, o.IO, o.Output, list.Users, func(u client.User) string { return u.Name }); done {
		return err
	}
	tty := o.IO.IsStdoutTTY()
	if len(list.Users) == 0 {
		if tty {
			fmt.Fprintln(o.IO.ErrOut, "No accounts: add the first admin with `appstored users add <name> --role admin` on the server (or `appstore users add` with the daemon token).")
		}
		return nil
	}
	now := o.Now()
	when := func(t time.Time) string {
		if tty {
			return ago(now, t)
		}
		return t.UTC().Format(time.RFC3339)
	}
	t := newTable(o.IO, "NAME", "ROLE", "ADDED BY", "ADDED", "TOKEN MADE")
	for _, u := range list.Users {
		t.row(field{text: u.Name, color: o.IO.Bold}, cell(string(u.Role)), cell(u.CreatedBy),
			field{text: when(u.CreatedAt), color: o.IO.Gray}, field{text: when(u.TokenCreatedAt), color: o.IO.Gray})
	}
	return t.render()
}

// printToken prints a new token alone on standard output (--json: the
// whole answer), with a note for the person on a terminal's standard
// error.
func printToken(ctx context.Context, o *UsersOptions, ut *client.UserToken, what string) error {
	if o.Output.Machine() {
		return writeJSON(ctx, o.IO, o.Output, ut)
	}
	if o.IO.IsStderrTTY() {
		fmt.Fprintf(o.IO.ErrOut, "%s %s %s (%s). The token, shown this once (the daemon keeps only its hash):\n",
			o.IO.SuccessIcon(), what, ut.User.Name, ut.User.Role)
	}
	_, err := fmt.Fprintln(o.IO.Out, ut.Token)
	return err
}

func runUsersAdd(ctx context.Context, o *UsersOptions) error {
	if o.Role != "" {
		if _, err := catalog.ParseRole(o.Role); err != nil {
			return usageErrorf("--role %q: want admin, member or viewer", o.Role)
		}
	}
	if err := catalog.ValidateUserName(o.Name); err != nil {
		return usageErrorf("%s", err)
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	ut, err := c.AddUser(ctx, client.AddUserRequest{Name: o.Name, Role: o.Role})
	if err != nil {
		return err
	}
	return printToken(ctx, o, ut, "Added")
}

func runUsersToken(ctx context.Context, o *UsersOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	ut, err := c.ReplaceUserToken(ctx, o.Name)
	if err != nil {
		return err
	}
	return printToken(ctx, o, ut, "New token for")
}

func runUsersRm(ctx context.Context, o *UsersOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	if !o.Yes && o.IO.CanPrompt() {
		q := fmt.Sprintf("Remove the account %s? Its token stops working. [y/N] ", o.Name)
		if o.Reassign != "" {
			q = fmt.Sprintf("Remove the account %s and hand its apps over to %s? Its token stops working. [y/N] ", o.Name, o.Reassign)
		}
		ok, err := confirm(o.IO, q)
		if err != nil {
			return err
		}
		if !ok {
			return errCancelled
		}
	}
	removed, err := c.DeleteUser(ctx, o.Name, client.DeleteUserOptions{Reassign: o.Reassign})
	if err != nil {
		return err
	}
	if done, err := writeObject(ctx, o.IO, o.Output, removed, removed.Name); done {
		return err
	}
	if o.IO.IsStdoutTTY() {
		fmt.Fprintf(o.IO.Out, "%s Removed %s\n", o.IO.SuccessIcon(), removed.Name)
	}
	if removed.OwnedApps > 0 {
		fmt.Fprintf(o.IO.ErrOut, "%s now owns the %d app(s) %s owned (`appstore search owner:%s -q` lists them).\n",
			removed.ReassignedTo, removed.OwnedApps, removed.Name, removed.ReassignedTo)
	}
	return nil
}

// WhoamiOptions are the inputs of "appstore whoami".
type WhoamiOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions
}

// NewCmdWhoami builds "appstore whoami".
func NewCmdWhoami(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Say who the daemon takes you for",
		Long: `Print the user the daemon takes your token (APPSTORE_TOKEN or --token) for,
and its role. In a pipe: name and role, tab-separated ("" for no one).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWhoami(cmd.Context(), &WhoamiOptions{IO: f.IO, Client: f.Client, Output: f.Output()})
		},
	}
}

func runWhoami(ctx context.Context, o *WhoamiOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	w, err := c.Whoami(ctx)
	if err != nil {
		return err
	}
	if done, err := writeObject(ctx, o.IO, o.Output, w, w.User.Name); done {
		return err
	}
	u := w.User
	if !o.IO.IsStdoutTTY() {
		_, err := fmt.Fprintf(o.IO.Out, "%s\t%s\n", u.Name, u.Role)
		return err
	}
	var note string
	switch {
	case u.Anonymous():
		fmt.Fprintln(o.IO.Out, "No one: you sent no token, and this daemon wants one for changes. Set APPSTORE_TOKEN (or --token) to your personal token.")
		return nil
	case u.Builtin && u.Name == catalog.LocalUser:
		note = " — this daemon has no accounts and no token: whoever reaches it is an admin"
	case u.Builtin && u.Name == catalog.TokenUser:
		note = " — the daemon token"
	}
	_, err = fmt.Fprintf(o.IO.Out, "%s (%s)%s\n", o.IO.Bold(u.Name), u.Role, note)
	return err
}
