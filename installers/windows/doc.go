// Package windows makes the agent's MSI, sonde-agent-VERSION-x64.msi, on
// Linux: it signs sonde-agent.exe with osslsigncode, writes the WiX
// source (agent.wxs.tmpl) and builds it with wixl (msitools), adds with
// msibuild what wixl cannot express, then signs the MSI.
//
// The MSI installs the agent to [ProgramFiles64Folder]Sonde\ as the
// sonde-agent service (LocalSystem, automatic start), upgrades in place,
// and refuses to replace a newer version. Given COLLECTOR, TOKEN and
// CAPIN, it leaves them under HKLM\SOFTWARE\Sonde\Enroll, where the
// service finds them (agent/config.RegistryKey) to enroll itself.
//
// Two builds of one commit are byte-identical: GUIDs derive from the
// version, every timestamp is the release's, and signing is given a fixed
// time (without a timestamp server) and an RSA key, whose signatures are
// deterministic.
package windows
