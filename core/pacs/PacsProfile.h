#pragma once
// PACS profiles: how to reach one PACS (DICOMweb or DIMSE) and how to sign in. Stored per
// operating-system user in an INI file (QSettings), never in the study database; a secret is
// the path of a file that holds it (a password or a bearer token), never the secret itself.
#include <QString>
#include <QStringList>

#include <vector>

namespace panseg::pacs
{
enum class Protocol
{
  DicomWeb,
  Dimse
};
enum class AuthKind
{
  None,
  Basic,
  Bearer
};

QString toString(Protocol p);
QString toString(AuthKind a);
/// Throws panseg::Error naming the accepted values.
Protocol parseProtocol(const QString& text);
AuthKind parseAuth(const QString& text);

struct PacsProfile
{
  QString name;
  Protocol protocol = Protocol::DicomWeb;
  // DICOMweb: base URL of the service, e.g. http://pacs:8042/dicom-web
  QString url;
  // DIMSE
  QString host;
  int port = 104;
  QString calledAet;              // the PACS's AE title
  QString callingAet = "PANSEG";  // ours
  bool useMove = false;  // retrieve with C-MOVE to our storage SCP instead of C-GET
  int storagePort = 0;   // C-MOVE: the port our storage SCP listens on (the PACS must know
                         // callingAet at this host and port)
  // DICOMweb authentication
  AuthKind auth = AuthKind::None;
  QString username;   // basic
  QString secretFile; // basic: the password; bearer: the token (first line, trimmed)
  int timeoutMs = 5000; // connect / no-progress timeout

  /// One line: "orthanc  dicomweb  http://...  basic alice (secret in /path)".
  QString summary() const;
  /// Throws panseg::Error when a field the protocol needs is missing or wrong.
  void validate() const;
  /// The secret read from secretFile (trimmed first line); throws Error naming the file.
  QByteArray readSecret() const;
};

/// The per-user profile file: $PANSEG_PACS_CONFIG when set, else
/// <GenericConfigLocation>/panseg/pacs.ini (~/.config/panseg/pacs.ini).
QString profileFilePath();

/// Reads and writes the profile file. Every call re-reads the file, so two processes see each
/// other's changes.
class ProfileStore
{
public:
  explicit ProfileStore(const QString& path = profileFilePath());
  std::vector<PacsProfile> list() const;
  /// Throws panseg::Error "no PACS profile NAME (known: a, b)".
  PacsProfile get(const QString& name) const;
  bool contains(const QString& name) const;
  /// Adds or replaces; validates first. Throws Error when the file cannot be written.
  void save(const PacsProfile& profile);
  /// Throws Error when there is no such profile.
  void remove(const QString& name);
  const QString& path() const { return m_path; }

private:
  QString m_path;
};
} // namespace panseg::pacs
