#pragma once
// A streaming multipart/related parser (RFC 2046 / DICOM PS3.18 WADO-RS responses). Bytes are
// fed as they arrive; each part's headers and body are handed to callbacks, so a series never
// has to fit in memory. Tolerates what real servers send: a quoted or unquoted boundary and
// type parameter, per-part headers (or none), CRLF or bare LF line ends, a preamble and an
// epilogue, no Content-Length (transfer encoding is the HTTP layer's). finish() throws
// panseg::Error when the response was cut off (no closing delimiter) or malformed.
#include <QByteArray>
#include <QList>
#include <QPair>
#include <QString>

#include <functional>

namespace panseg::pacs
{
/// The parameters of a Content-Type value: media type (lower case) and parameters (names lower
/// case, values unquoted). `multipart/related; type="application/dicom"; boundary=abc`.
struct ContentType
{
  QByteArray mediaType;
  QList<QPair<QByteArray, QByteArray>> params;
  QByteArray param(const QByteArray& name) const;
};
ContentType parseContentType(const QByteArray& value);

class MultipartParser
{
public:
  using Headers = QList<QPair<QByteArray, QByteArray>>; // names lower case
  std::function<void(const Headers&)> onPartBegin;
  std::function<void(const char* data, qsizetype size)> onPartData;
  std::function<void()> onPartEnd;

  /// Throws panseg::Error for an empty boundary.
  explicit MultipartParser(const QByteArray& boundary);
  /// From a whole Content-Type header; throws Error when it is not multipart or has no boundary.
  static QByteArray boundaryOf(const QByteArray& contentType);

  /// Feeds the next bytes; throws Error on malformed input (header block too large).
  void feed(const char* data, qsizetype size);
  void feed(const QByteArray& bytes) { feed(bytes.constData(), bytes.size()); }
  /// End of input: throws Error unless the closing delimiter was seen.
  void finish();

  int partsCompleted() const { return m_completed; }
  bool done() const { return m_state == State::Done; }

private:
  enum class State
  {
    Preamble,
    AfterDelimiter,
    Headers,
    Body,
    Done
  };
  void process(bool atEnd);

  QByteArray m_delimiter; // "\n--" + boundary
  QByteArray m_buffer;
  State m_state = State::Preamble;
  int m_completed = 0;
  bool m_inPart = false;
};
} // namespace panseg::pacs
