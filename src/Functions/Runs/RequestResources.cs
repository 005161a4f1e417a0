using System.Text;
using System.Text.Json;
using AgentRuns.Functions.Model;

namespace AgentRuns.Functions.Runs;

/// <summary>The pending requests as the inbox shows them, and the inbox's opaque cursor.</summary>
public static class RequestResources
{
    /// <summary><c>{"object":"request","run_id":…, …the request as pending_input shows it}</c>.</summary>
    public static string Pending(string runId, PendingRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var pending = JsonDocument.Parse(request.ToJson());
        return JsonText.Object(w =>
        {
            w.WriteString("object", "request");
            w.WriteString("run_id", runId);
            w.WriteString("status", "pending");
            foreach (var member in pending.RootElement.EnumerateObject())
            {
                w.WriteRaw(member.Name, member.Value.GetRawText());
            }
        });
    }

    public static string EncodeCursor(string inboxKey) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(inboxKey)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The inbox key of a cursor this API returned, or null when it is not one.</summary>
    public static string? DecodeCursor(string cursor)
    {
        ArgumentNullException.ThrowIfNull(cursor);
        if (cursor.Length is 0 or > 256)
        {
            return null;
        }

        var base64 = cursor.Replace('-', '+').Replace('_', '/');
        base64 += new string('=', (4 - (base64.Length % 4)) % 4);
        try
        {
            var key = Encoding.UTF8.GetString(Convert.FromBase64String(base64));
            return key.StartsWith(Storage.RunRows.InboxPrefix, StringComparison.Ordinal) && key.All(c => c is >= ' ' and <= '~') ? key : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
