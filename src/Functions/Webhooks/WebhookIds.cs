using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using AgentRuns.Functions.Model;

namespace AgentRuns.Functions.Webhooks;

/// <summary>
/// Identifiers of webhooks: subscriptions (<c>wh_</c> + 26 lowercase base32 characters), their signing secrets (<c>whsec_</c> +
/// base64 of 32 random bytes, the Standard Webhooks form), and messages: one per event of a run, <c>msg_</c> + the run id's
/// 26 characters + <c>_</c> + the event's seq, sent as <c>webhook-id</c> and the same on every retry and for every subscription.
/// </summary>
public static partial class WebhookIds
{
    public const string Prefix = "wh_";
    public const string SecretPrefix = "whsec_";
    public const string MessagePrefix = "msg_";
    private const string Alphabet = "0123456789abcdefghjkmnpqrstvwxyz";

    public static string New()
    {
        Span<byte> random = stackalloc byte[26];
        RandomNumberGenerator.Fill(random);
        return Create(random);
    }

    /// <summary>The same id for the same seed: the subscription of an idempotent create, so that a retry finds it.</summary>
    public static string FromSeed(string seed) => Create(SHA256.HashData(Encoding.UTF8.GetBytes("webhook|" + seed)).AsSpan(0, 26));

    public static string NewSecret() => SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>The message id of event <paramref name="seq"/> of <paramref name="runId"/>.</summary>
    public static string Message(string runId, long seq)
    {
        ArgumentNullException.ThrowIfNull(runId);
        var suffix = runId.StartsWith(RunIds.Prefix, StringComparison.Ordinal) ? runId[RunIds.Prefix.Length..] : runId;
        return $"{MessagePrefix}{suffix}_{seq.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
    }

    /// <summary>True for an id this service could have issued.</summary>
    public static bool IsWellFormed(string id) => WellFormed().IsMatch(id);

    /// <summary>True for text that cannot be any id (odd characters, absurd length): a bad request rather than not found.</summary>
    public static bool IsMalformed(string id) => !Plausible().IsMatch(id);

    private static string Create(ReadOnlySpan<byte> entropy)
    {
        Span<char> chars = stackalloc char[26];
        for (var i = 0; i < 26; i++)
        {
            chars[i] = Alphabet[entropy[i] & 31];
        }

        return Prefix + new string(chars);
    }

    [GeneratedRegex("^wh_[0-9a-hjkmnp-tv-z]{26}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex WellFormed();

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex Plausible();
}
