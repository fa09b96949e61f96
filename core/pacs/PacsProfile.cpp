#include "PacsProfile.h"

#include "core/Error.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSettings>
#include <QStandardPaths>
#include <QUrl>

namespace panseg::pacs
{
namespace
{
[[noreturn]] void fail(const QString& message)
{
  throw Error(message.toStdString());
}
} // namespace

QString toString(Protocol p)
{
  return p == Protocol::Dimse ? "dimse" : "dicomweb";
}
QString toString(AuthKind a)
{
  switch (a)
  {
  case AuthKind::Basic: return "basic";
  case AuthKind::Bearer: return "bearer";
  case AuthKind::None: break;
  }
  return "none";
}
Protocol parseProtocol(const QString& text)
{
  const QString t = text.trimmed().toLower();
  if (t == "dicomweb" || t == "web")
    return Protocol::DicomWeb;
  if (t == "dimse" || t == "dicom")
    return Protocol::Dimse;
  fail("unknown PACS protocol '" + text + "' (dicomweb or dimse)");
}
AuthKind parseAuth(const QString& text)
{
  const QString t = text.trimmed().toLower();
  if (t.isEmpty() || t == "none")
    return AuthKind::None;
  if (t == "basic")
    return AuthKind::Basic;
  if (t == "bearer")
    return AuthKind::Bearer;
  fail("unknown authentication '" + text + "' (none, basic or bearer)");
}

QString PacsProfile::summary() const
{
  QString where;
  if (protocol == Protocol::DicomWeb)
  {
    where = url;
    if (auth == AuthKind::Basic)
      where += "  basic " + username + " (password in " + secretFile + ")";
    else if (auth == AuthKind::Bearer)
      where += "  bearer (token in " + secretFile + ")";
  }
  else
  {
    where = QString("%1:%2  called %3  calling %4").arg(host).arg(port).arg(calledAet, callingAet);
    where += useMove ? QString("  C-MOVE to port %1").arg(storagePort) : QString("  C-GET");
  }
  return name + "  " + toString(protocol) + "  " + where;
}

void PacsProfile::validate() const
{
  static const QRegularExpression nameRe("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$");
  if (!nameRe.match(name).hasMatch())
    fail("PACS profile name '" + name + "': use letters, digits, '_', '.', '-' (up to 64, starting with a letter or digit)");
  if (timeoutMs < 100 || timeoutMs > 600000)
    fail(QString("PACS profile %1: timeout %2 ms is outside 100..600000").arg(name).arg(timeoutMs));
  if (protocol == Protocol::DicomWeb)
  {
    const QUrl u(url);
    if (!u.isValid() || (u.scheme() != "http" && u.scheme() != "https") || u.host().isEmpty())
      fail("PACS profile " + name + ": '" + url + "' is not an http:// or https:// base URL");
    if (auth == AuthKind::Basic && username.isEmpty())
      fail("PACS profile " + name + ": basic authentication needs a user name (--user-name)");
    if (auth != AuthKind::None && secretFile.isEmpty())
      fail("PACS profile " + name + ": " + toString(auth) + " authentication needs --secret-file FILE");
    if (auth != AuthKind::None && !QFileInfo(secretFile).isAbsolute())
      fail("PACS profile " + name + ": the secret file must be an absolute path, not '" + secretFile + "'");
  }
  else
  {
    if (host.isEmpty())
      fail("PACS profile " + name + ": DIMSE needs a host");
    if (port < 1 || port > 65535)
      fail(QString("PACS profile %1: port %2 is outside 1..65535").arg(name).arg(port));
    static const QRegularExpression aetRe("^[\\x20-\\x7e]{1,16}$");
    if (!aetRe.match(calledAet).hasMatch() || calledAet.contains('\\') || calledAet.trimmed().isEmpty())
      fail("PACS profile " + name + ": called AE title '" + calledAet + "' must be 1 to 16 printable characters");
    if (!aetRe.match(callingAet).hasMatch() || callingAet.contains('\\') || callingAet.trimmed().isEmpty())
      fail("PACS profile " + name + ": calling AE title '" + callingAet + "' must be 1 to 16 printable characters");
    if (useMove && (storagePort < 1 || storagePort > 65535))
      fail("PACS profile " + name + ": C-MOVE needs the port of our storage SCP (--storage-port 1..65535)");
  }
}

QByteArray PacsProfile::readSecret() const
{
  QFile f(secretFile);
  if (!f.open(QIODevice::ReadOnly))
    fail("PACS profile " + name + ": cannot read the secret file " + secretFile + ": " + f.errorString());
  const QByteArray secret = f.readLine().trimmed();
  if (secret.isEmpty())
    fail("PACS profile " + name + ": the secret file " + secretFile + " is empty");
  return secret;
}

QString profileFilePath()
{
  const QByteArray env = qgetenv("PANSEG_PACS_CONFIG");
  if (!env.isEmpty())
    return QString::fromLocal8Bit(env);
  return QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation) + "/panseg/pacs.ini";
}

ProfileStore::ProfileStore(const QString& path) : m_path(path) {}

namespace
{
PacsProfile readProfile(QSettings& s, const QString& name)
{
  PacsProfile p;
  s.beginGroup("profile-" + name);
  p.name = name;
  p.protocol = parseProtocol(s.value("protocol", "dicomweb").toString());
  p.url = s.value("url").toString();
  p.host = s.value("host").toString();
  p.port = s.value("port", 104).toInt();
  p.calledAet = s.value("called_aet").toString();
  p.callingAet = s.value("calling_aet", "PANSEG").toString();
  p.useMove = s.value("retrieve", "get").toString() == "move";
  p.storagePort = s.value("storage_port", 0).toInt();
  p.auth = parseAuth(s.value("auth", "none").toString());
  p.username = s.value("username").toString();
  p.secretFile = s.value("secret_file").toString();
  p.timeoutMs = s.value("timeout_ms", 5000).toInt();
  s.endGroup();
  return p;
}

void checkStatus(const QSettings& s, const QString& path)
{
  if (s.status() == QSettings::AccessError)
    fail("cannot write the PACS profile file " + path);
  if (s.status() == QSettings::FormatError)
    fail("the PACS profile file " + path + " is damaged (not an INI file)");
}
} // namespace

std::vector<PacsProfile> ProfileStore::list() const
{
  QSettings s(m_path, QSettings::IniFormat);
  checkStatus(s, m_path);
  std::vector<PacsProfile> out;
  for (const QString& group : s.childGroups())
    if (group.startsWith("profile-"))
      out.push_back(readProfile(s, group.mid(8)));
  return out;
}

bool ProfileStore::contains(const QString& name) const
{
  QSettings s(m_path, QSettings::IniFormat);
  return s.childGroups().contains("profile-" + name);
}

PacsProfile ProfileStore::get(const QString& name) const
{
  QSettings s(m_path, QSettings::IniFormat);
  checkStatus(s, m_path);
  if (!s.childGroups().contains("profile-" + name))
  {
    QStringList known;
    for (const QString& g : s.childGroups())
      if (g.startsWith("profile-"))
        known << g.mid(8);
    fail("no PACS profile '" + name + "' (" + (known.isEmpty() ? "none defined; add one with panseg pacs add" : "known: " + known.join(", ")) + ")");
  }
  return readProfile(s, name);
}

void ProfileStore::save(const PacsProfile& p)
{
  p.validate();
  QDir().mkpath(QFileInfo(m_path).absolutePath());
  QSettings s(m_path, QSettings::IniFormat);
  s.remove("profile-" + p.name);
  s.beginGroup("profile-" + p.name);
  s.setValue("protocol", toString(p.protocol));
  if (p.protocol == Protocol::DicomWeb)
  {
    s.setValue("url", p.url);
    s.setValue("auth", toString(p.auth));
    if (p.auth == AuthKind::Basic)
      s.setValue("username", p.username);
    if (p.auth != AuthKind::None)
      s.setValue("secret_file", p.secretFile);
  }
  else
  {
    s.setValue("host", p.host);
    s.setValue("port", p.port);
    s.setValue("called_aet", p.calledAet);
    s.setValue("calling_aet", p.callingAet);
    s.setValue("retrieve", p.useMove ? "move" : "get");
    if (p.useMove)
      s.setValue("storage_port", p.storagePort);
  }
  s.setValue("timeout_ms", p.timeoutMs);
  s.endGroup();
  s.sync();
  checkStatus(s, m_path);
  QFile::setPermissions(m_path, QFile::ReadOwner | QFile::WriteOwner);
}

void ProfileStore::remove(const QString& name)
{
  QSettings s(m_path, QSettings::IniFormat);
  if (!s.childGroups().contains("profile-" + name))
    fail("no PACS profile '" + name + "' to remove");
  s.remove("profile-" + name);
  s.sync();
  checkStatus(s, m_path);
}
} // namespace panseg::pacs
