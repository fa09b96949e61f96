#include "MultipartParser.h"

#include "core/Error.h"

#include <algorithm>
#include <cstring>

namespace panseg::pacs
{
namespace
{
constexpr qsizetype kMaxHeaderBlock = 64 * 1024;

QByteArray unquote(QByteArray v)
{
  v = v.trimmed();
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
  {
    v = v.mid(1, v.size() - 2);
    QByteArray out;
    for (qsizetype i = 0; i < v.size(); ++i)
    {
      if (v[i] == '\\' && i + 1 < v.size())
        ++i;
      out += v[i];
    }
    return out;
  }
  return v;
}
} // namespace

QByteArray ContentType::param(const QByteArray& name) const
{
  for (const auto& p : params)
    if (p.first == name)
      return p.second;
  return {};
}

ContentType parseContentType(const QByteArray& value)
{
  ContentType ct;
  // Split on ';' outside quotes.
  QList<QByteArray> pieces;
  QByteArray cur;
  bool quoted = false;
  for (qsizetype i = 0; i < value.size(); ++i)
  {
    const char c = value[i];
    if (c == '"')
      quoted = !quoted;
    if (c == '\\' && quoted && i + 1 < value.size())
    {
      cur += c;
      cur += value[++i];
      continue;
    }
    if (c == ';' && !quoted)
    {
      pieces << cur;
      cur.clear();
      continue;
    }
    cur += c;
  }
  pieces << cur;
  ct.mediaType = pieces.value(0).trimmed().toLower();
  for (qsizetype i = 1; i < pieces.size(); ++i)
  {
    const qsizetype eq = pieces[i].indexOf('=');
    if (eq <= 0)
      continue;
    ct.params.append({ pieces[i].left(eq).trimmed().toLower(), unquote(pieces[i].mid(eq + 1)) });
  }
  return ct;
}

QByteArray MultipartParser::boundaryOf(const QByteArray& contentType)
{
  const ContentType ct = parseContentType(contentType);
  if (!ct.mediaType.startsWith("multipart/"))
    throw Error("malformed DICOMweb response: expected multipart/related, got Content-Type '" +
                contentType.toStdString() + "'");
  const QByteArray b = ct.param("boundary");
  if (b.isEmpty())
    throw Error("malformed DICOMweb response: multipart Content-Type without a boundary ('" + contentType.toStdString() +
                "')");
  return b;
}

MultipartParser::MultipartParser(const QByteArray& boundary)
{
  if (boundary.isEmpty() || boundary.size() > 200)
    throw Error("malformed multipart response: a boundary must have 1 to 200 characters");
  m_delimiter = "\n--" + boundary;
  m_buffer = "\n"; // the first delimiter may open the body without a line end before it
}

void MultipartParser::feed(const char* data, qsizetype size)
{
  if (m_state == State::Done)
    return; // epilogue
  m_buffer.append(data, size);
  process(false);
}

void MultipartParser::process(bool atEnd)
{
  // A read cursor over the buffer; the consumed front is dropped once per call. (Dropping it per
  // part made a large chunk holding many parts quadratic: a 300-slice series arrived 10x slower.)
  qsizetype pos = 0;
  struct Compact
  {
    QByteArray& buffer;
    qsizetype& pos;
    ~Compact() { buffer.remove(0, std::min(pos, buffer.size())); }
  } compact{ m_buffer, pos };
  const qsizetype dl = m_delimiter.size();
  auto startsWithAt = [&](const char* text) { return m_buffer.mid(pos, qsizetype(std::strlen(text))) == text; };
  for (;;)
  {
    const qsizetype left = m_buffer.size() - pos;
    switch (m_state)
    {
    case State::Done:
      pos = m_buffer.size();
      return;
    case State::Preamble:
    {
      const qsizetype at = m_buffer.indexOf(m_delimiter, pos);
      if (at < 0)
      {
        if (left > dl)
          pos = m_buffer.size() - dl;
        return;
      }
      pos = at + dl;
      m_state = State::AfterDelimiter;
      break;
    }
    case State::AfterDelimiter:
    {
      if (left < 2 && !atEnd)
        return;
      if (startsWithAt("--"))
      {
        m_state = State::Done;
        break;
      }
      const qsizetype nl = m_buffer.indexOf('\n', pos);
      if (nl < 0)
      {
        if (left > 1024)
          throw Error("malformed multipart response: no line end after a boundary");
        return; // wait for more (or cut off: finish() reports it)
      }
      pos = nl + 1;
      m_state = State::Headers;
      break;
    }
    case State::Headers:
    {
      // The header block ends at the first empty line (CRLF or LF). Walk it line by line: a
      // search for "\n\n" over the whole buffer would scan each part's pixel data (quadratic).
      qsizetype end = -1, skip = 0;
      for (qsizetype lineStart = pos;;)
      {
        const qsizetype nl = m_buffer.indexOf('\n', lineStart);
        if (nl < 0)
          break;
        const qsizetype length = nl - lineStart;
        if (length == 0 || (length == 1 && m_buffer[lineStart] == '\r'))
        {
          end = lineStart;
          skip = length + 1;
          break;
        }
        lineStart = nl + 1;
        if (lineStart - pos > kMaxHeaderBlock)
          break;
      }
      if (end < 0)
      {
        if (left > kMaxHeaderBlock)
          throw Error("malformed multipart response: a part's header block exceeds 64 KiB");
        return;
      }
      Headers headers;
      const QList<QByteArray> lines = m_buffer.mid(pos, end - pos).split('\n');
      for (QByteArray line : lines)
      {
        if (line.endsWith('\r'))
          line.chop(1);
        if (line.isEmpty())
          continue;
        if ((line[0] == ' ' || line[0] == '\t') && !headers.isEmpty())
        {
          headers.last().second += ' ' + line.trimmed();
          continue;
        }
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0)
          throw Error("malformed multipart response: part header line without a name: '" +
                      line.left(80).toStdString() + "'");
        headers.append({ line.left(colon).trimmed().toLower(), line.mid(colon + 1).trimmed() });
      }
      pos = end + skip;
      m_inPart = true;
      if (onPartBegin)
        onPartBegin(headers);
      m_state = State::Body;
      break;
    }
    case State::Body:
    {
      const qsizetype at = m_buffer.indexOf(m_delimiter, pos);
      if (at < 0)
      {
        // Everything but what could be the start of a delimiter (and the CR before it).
        if (left > dl)
        {
          const qsizetype n = left - dl;
          if (onPartData)
            onPartData(m_buffer.constData() + pos, n);
          pos += n;
        }
        return;
      }
      qsizetype dataEnd = at;
      if (dataEnd > pos && m_buffer[dataEnd - 1] == '\r')
        --dataEnd;
      if (onPartData && dataEnd > pos)
        onPartData(m_buffer.constData() + pos, dataEnd - pos);
      m_inPart = false;
      ++m_completed;
      if (onPartEnd)
        onPartEnd();
      pos = at + dl;
      m_state = State::AfterDelimiter;
      break;
    }
    }
  }
}

void MultipartParser::finish()
{
  process(true);
  if (m_state == State::Done)
    return;
  if (m_state == State::Preamble && m_completed == 0)
    throw Error("malformed multipart response: the boundary '" + m_delimiter.mid(3).toStdString() + "' never occurs");
  throw Error("truncated multipart response: the closing boundary never came (" + std::to_string(m_completed) +
              " complete part(s), part " + std::to_string(m_completed + 1) + " cut off)");
}
} // namespace panseg::pacs
