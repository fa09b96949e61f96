#include "database/server/SignIn.h"

#include "core/Error.h"

#include <QUrl>
#include <QUrlQuery>

namespace panseg::db
{
std::string signInLocation(const SignInRequest& request)
{
  if (!SqlDialect::isServerLocation(request.serverUri))
    throw Error("a department server is a PostgreSQL URI (postgresql://host[:port]/database), not '" +
                request.serverUri + "'");
  QUrl url(QString::fromStdString(request.serverUri), QUrl::StrictMode);
  if (!url.isValid() || url.host().isEmpty() || url.path().size() < 2)
    throw Error("the server URI " + request.serverUri + " needs a host and a database (postgresql://host/database)");
  if (request.user.empty())
    throw Error("give your user name to sign in");
  url.setUserName(QString::fromStdString(request.user));
  url.setPassword(QString());
  QUrlQuery query(url);
  if (request.verifyFull)
  {
    query.removeAllQueryItems("sslmode");
    query.addQueryItem("sslmode", "verify-full");
    if (!request.caFile.empty())
    {
      query.removeAllQueryItems("sslrootcert");
      query.addQueryItem("sslrootcert", QString::fromStdString(request.caFile));
    }
  }
  url.setQuery(query);
  return url.toString(QUrl::RemovePassword).toStdString();
}

std::unique_ptr<StudyDatabase> signIn(const SignInRequest& request)
{
  StudyDatabase::OpenOptions o;
  o.password = request.password;
  o.passwordPrompt = [](const std::string&) { return std::string(); }; // never ask elsewhere
  return std::make_unique<StudyDatabase>(signInLocation(request), o);
}

std::string sessionSummary(const StudyDatabase& db)
{
  const User& u = db.currentUser();
  if (db.isServer())
    return "signed in as " + u.username + " (" + to_string(u.role) + ") on " + db.databasePath();
  return "local study database " + db.dataFolder() + " as " + u.username + " (" + to_string(u.role) +
         "; names are not verified)";
}
} // namespace panseg::db
