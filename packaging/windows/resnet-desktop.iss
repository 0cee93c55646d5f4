; Inno Setup 6 script: a per-user Setup.exe for ResNet Desktop (no administrator rights needed,
; except once for the Visual C++ runtime when it is missing).
;
; packaging/build.py runs it after PyInstaller, passing:
;   /DAppVersion=0.1.0  /DBundleDir=...\dist\resnet-desktop  /DOutputDir=...\dist
;   /DIconFile=...\resnet-desktop.ico (optional)  /DVCRedist=...\vc_redist.x64.exe (optional)
; By hand, from the repository root after `python packaging\build.py --skip-installer`:
;   ISCC /DAppVersion=0.1.0 /DVCRedist=%CD%\packaging\windows\vc_redist.x64.exe packaging\windows\resnet-desktop.iss

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef BundleDir
  #define BundleDir "..\..\dist\resnet-desktop"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#define AppName "ResNet Desktop"
#define AppExe "resnet-desktop.exe"

[Setup]
; Keep the AppId for every release: upgrades and the uninstaller find the installation by it.
AppId={{6F1C2A8E-5B7D-4C3A-9E21-7D4B8A0F3C55}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=ResNet Desktop contributors
; Per-user install into %LOCALAPPDATA%\Programs; the user may still choose all users (then
; Windows asks for administrator rights).
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; ONNX Runtime's DirectML build is 64-bit only (x64 and Arm64 Windows with x64 emulation).
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0.17763
OutputDir={#OutputDir}
OutputBaseFilename=resnet-desktop-{#AppVersion}-windows-x64-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
UninstallDisplayName={#AppName}
UninstallDisplayIcon={app}\{#AppExe}
CloseApplications=yes
#ifdef IconFile
SetupIconFile={#IconFile}
#endif
#ifdef Sign
; ISCC /DSign /Ssigntool="signtool sign ... $f": Inno Setup signs Setup.exe and the uninstaller.
SignTool=signtool
SignedUninstaller=yes
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; A new version replaces the whole bundle: no stale DLLs from the previous one.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
#ifdef VCRedist
Source: "{#VCRedist}"; DestDir: "{tmp}"; DestName: "vc_redist.x64.exe"; Flags: deleteafterinstall; Check: VCRedistNeeded
#endif

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
#ifdef VCRedist
; ONNX Runtime needs the Visual C++ 2015-2022 runtime. Installing it needs administrator
; rights, so only this step asks for them (runas), and only when the runtime is missing.
Filename: "{tmp}\vc_redist.x64.exe"; Parameters: "/install /quiet /norestart"; Verb: "runas"; Flags: shellexec waituntilterminated; StatusMsg: "Installing the Microsoft Visual C++ runtime..."; Check: VCRedistNeeded
#endif
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Settings, downloaded models and logs live in the user's profile (platformdirs) and are kept.
Type: dirifempty; Name: "{app}"

[Code]
const
  VCRuntimeKey = 'SOFTWARE\Microsoft\VisualStudio\14.0\VC\Runtimes\x64';

// True unless the Visual C++ 2015-2022 x64 runtime 14.40 or newer is installed. ONNX Runtime
// is built with Visual Studio 2022 17.10+, whose programs crash in std::mutex with an older
// msvcp140.dll.
function VCRedistNeeded: Boolean;
var
  Installed, Major, Minor: Cardinal;
begin
  Result := True;
  if RegQueryDWordValue(HKLM64, VCRuntimeKey, 'Installed', Installed) and (Installed = 1) and
     RegQueryDWordValue(HKLM64, VCRuntimeKey, 'Major', Major) and
     RegQueryDWordValue(HKLM64, VCRuntimeKey, 'Minor', Minor) then
    Result := (Major < 14) or ((Major = 14) and (Minor < 40));
end;
