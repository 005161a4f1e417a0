using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace AgentRuns.Functions.Model;

/// <summary>
/// Run ids: <c>run_</c> + 26 lowercase Crockford base32 characters: 10 of inverted milliseconds since the epoch, then
/// 16 random. Inverted time makes the tenant's Runs partition list newest first, so the operator's inbox is one
/// ordered range scan.
/// </summary>
public static partial class RunIds
{
    public const string Prefix = "run_";
    private const string Alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
    private const long MaxMilliseconds = (1L << 48) - 1;

    public static string New(DateTimeOffset now)
    {
        Span<byte> random = stackalloc byte[16];
        RandomNumberGenerator.Fill(random);
        return Create(now, random);
    }

    /// <summary>The same id for the same seed: the run of an idempotent create, so that a retry finds it.</summary>
    public static string FromSeed(DateTimeOffset createdAt, string seed) =>
        Create(createdAt, SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(seed)).AsSpan(0, 16));

    private static string Create(DateTimeOffset time, ReadOnlySpan<byte> entropy)
    {
        Span<char> chars = stackalloc char[26];
        var inverted = MaxMilliseconds - time.ToUnixTimeMilliseconds();
        for (var i = 9; i >= 0; i--)
        {
            chars[i] = Alphabet[(int)(inverted & 31)];
            inverted >>= 5;
        }

        for (var i = 0; i < 16; i++)
        {
            chars[10 + i] = Alphabet[entropy[i] & 31];
        }

        return Prefix + new string(chars);
    }

    /// <summary>True for an id this service could have issued.</summary>
    public static bool IsWellFormed(string id) => WellFormed().IsMatch(id);

    /// <summary>
    /// True for text that cannot be any run id: odd characters or absurd length. Such a path is a bad request;
    /// a plausible id that does not exist is simply not found.
    /// </summary>
    public static bool IsMalformed(string id) => !Plausible().IsMatch(id);

    [GeneratedRegex("^run_[0-9a-hjkmnp-tv-z]{26}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex WellFormed();

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex Plausible();
}
