// core/Sha256: the FIPS 180-4 test vectors, and the processor's SHA instructions (when this
// machine has them) giving the same digest as the portable code for every length and split.
#include "core/Sha256.h"

#include <QtTest>

#include <random>
#include <string>
#include <vector>

namespace
{
std::string hexOf(const std::string& data, bool processor, const std::vector<size_t>& pieces = {})
{
  const bool before = panseg::Sha256::setProcessorInstructions(processor);
  panseg::Sha256 h;
  size_t at = 0;
  for (size_t n : pieces)
  {
    h.update(data.data() + at, n);
    at += n;
  }
  h.update(data.data() + at, data.size() - at);
  const std::string out = h.hexDigest();
  panseg::Sha256::setProcessorInstructions(before);
  return out;
}
} // namespace

class TstSha256 : public QObject
{
  Q_OBJECT
private slots:
  void standardVectors_data()
  {
    QTest::addColumn<bool>("processor");
    QTest::newRow("portable") << false;
    if (panseg::Sha256::processorInstructionsAvailable())
      QTest::newRow("SHA instructions") << true;
    else
      qInfo("this processor has no SHA extensions: only the portable code is tested");
  }
  void standardVectors()
  {
    QFETCH(bool, processor);
    QCOMPARE(hexOf("", processor), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    QCOMPARE(hexOf("abc", processor), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    QCOMPARE(hexOf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", processor),
             std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    QCOMPARE(hexOf("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                   processor),
             std::string("cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"));
    QCOMPARE(hexOf(std::string(1000000, 'a'), processor),
             std::string("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
  }

  void processorAndPortableAgree()
  {
    if (!panseg::Sha256::processorInstructionsAvailable())
      QSKIP("this processor has no SHA extensions (the portable code is what runs here)");
    std::mt19937_64 rng(20261207);
    std::string data(70000, '\0');
    for (char& c : data)
      c = char(rng() & 0xff);
    // Every length around the block size, then long ones fed in ragged pieces.
    for (size_t n = 0; n <= 300; ++n)
      QCOMPARE(hexOf(data.substr(0, n), true), hexOf(data.substr(0, n), false));
    for (size_t n : { size_t(4095), size_t(4096), size_t(65537), data.size() })
    {
      const std::string part = data.substr(0, n);
      const std::string expected = hexOf(part, false);
      QCOMPARE(hexOf(part, true), expected);
      QCOMPARE(hexOf(part, true, { 1, 63, 64, 65, 127, 3 }), expected);
      QCOMPARE(hexOf(part, true, { 200, 1000, 5 }), expected);
    }
  }
};

QTEST_GUILESS_MAIN(TstSha256)
#include "tst_sha256.moc"
