package state

import (
	"fmt"
	"io/fs"

	"golang.org/x/sys/windows"
)

// restrict makes the state dir readable by SYSTEM and Administrators only,
// whatever the folder it sits in allows (ProgramData lets every user read
// by default): the agent's private key lives there. Files created in it
// inherit this access list.
func restrict(dir string) error {
	if err := setAccess(dir, []grant{
		{windows.WinLocalSystemSid, windows.GENERIC_ALL},
		{windows.WinBuiltinAdministratorsSid, windows.GENERIC_ALL},
	}); err != nil {
		return fmt.Errorf("restricting %s to SYSTEM and Administrators: %w", dir, err)
	}
	return nil
}

// publish makes the public folder readable by every local user (Users) and
// writable by SYSTEM and Administrators only, whatever ProgramData allows
// (it lets users create folders and files): files created in it inherit
// this access list. A folder that a user created first is refused, since
// its owner could change the list back.
func publish(pub string, _ fs.FileInfo) error {
	sd, err := windows.GetNamedSecurityInfo(pub, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("public folder %s: reading its owner: %w", pub, err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return fmt.Errorf("public folder %s: reading its owner: %w", pub, err)
	}
	if !trustedOwner(owner) {
		return fmt.Errorf("public folder %s belongs to %s, not to SYSTEM or Administrators: remove it", pub, owner)
	}
	if err := setAccess(pub, []grant{
		{windows.WinLocalSystemSid, windows.GENERIC_ALL},
		{windows.WinBuiltinAdministratorsSid, windows.GENERIC_ALL},
		{windows.WinBuiltinUsersSid, windows.GENERIC_READ | windows.GENERIC_EXECUTE},
	}); err != nil {
		return fmt.Errorf("opening %s to Users for reading: %w", pub, err)
	}
	return nil
}

// trustedOwner reports whether sid is SYSTEM, Administrators, or the
// account the agent runs as.
func trustedOwner(sid *windows.SID) bool {
	if sid == nil {
		return false
	}
	if sid.IsWellKnown(windows.WinLocalSystemSid) || sid.IsWellKnown(windows.WinBuiltinAdministratorsSid) {
		return true
	}
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	return err == nil && sid.Equals(u.User.Sid)
}

// grant is one well-known account's access to a folder.
type grant struct {
	account windows.WELL_KNOWN_SID_TYPE
	access  windows.ACCESS_MASK
}

// setAccess replaces dir's access list with grants, inherited by everything
// created in dir. The list is protected: nothing is inherited from the
// parent folder.
func setAccess(dir string, grants []grant) error {
	var entries []windows.EXPLICIT_ACCESS
	for _, g := range grants {
		sid, err := windows.CreateWellKnownSid(g.account)
		if err != nil {
			return fmt.Errorf("creating the SID of a well-known account: %w", err)
		}
		entries = append(entries, windows.EXPLICIT_ACCESS{
			AccessPermissions: g.access,
			AccessMode:        windows.SET_ACCESS,
			Inheritance:       windows.SUB_CONTAINERS_AND_OBJECTS_INHERIT,
			Trustee: windows.TRUSTEE{
				TrusteeForm:  windows.TRUSTEE_IS_SID,
				TrusteeType:  windows.TRUSTEE_IS_WELL_KNOWN_GROUP,
				TrusteeValue: windows.TrusteeValueFromSID(sid),
			},
		})
	}
	acl, err := windows.ACLFromEntries(entries, nil)
	if err != nil {
		return fmt.Errorf("building the access list: %w", err)
	}
	// PROTECTED drops the access inherited from the parent folder.
	if err := windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, acl, nil); err != nil {
		return fmt.Errorf("setting the access list: %w", err)
	}
	return nil
}
