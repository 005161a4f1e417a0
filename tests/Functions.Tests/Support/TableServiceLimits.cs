using System.Text;
using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;

namespace AgentRuns.Functions.Tests.Support;

/// <summary>
/// What the Table service refuses and Azurite stores: an entity larger than 1 MiB. The service answers such a write (alone or in
/// a batch) with 400 <c>EntityTooLarge</c>; on the app's table clients in the test host this policy does the same, so that a test
/// sees what production would. The size is the service's documented formula: 4 bytes, plus twice the characters of the keys,
/// plus for each property 8 bytes, twice its name's characters and its value (a string 4 bytes and 2 a character).
/// </summary>
public sealed class TableServiceLimits : HttpPipelineSynchronousPolicy
{
    public const long MaxEntityBytes = 1024 * 1024;

    private int _refused;

    /// <summary>Writes refused so far.</summary>
    public int Refused => Volatile.Read(ref _refused);

    public override void OnSendingRequest(HttpMessage message) => Check(message);

    private void Check(HttpMessage message)
    {
        if (message.Request.Content is not { } content || message.Request.Method == RequestMethod.Get)
        {
            return;
        }

        using var body = new MemoryStream();
        content.WriteTo(body, CancellationToken.None);
        // A single write's body is one JSON object; a batch's is multipart, each entity one JSON line.
        foreach (var line in Encoding.UTF8.GetString(body.ToArray()).Split('\n'))
        {
            var text = line.Trim();
            if (text.StartsWith('{') && Size(text) is { } size && size > MaxEntityBytes)
            {
                Interlocked.Increment(ref _refused);
                throw new RequestFailedException(400, $"The entity is larger than the maximum allowed size (1MB): {size} bytes.", "EntityTooLarge", null);
            }
        }
    }

    private static long? Size(string json)
    {
        try
        {
            using var entity = JsonDocument.Parse(json);
            if (entity.RootElement.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            long size = 4;
            foreach (var property in entity.RootElement.EnumerateObject())
            {
                if (property.Name.Contains("odata.", StringComparison.Ordinal))
                {
                    continue;
                }

                var value = property.Value.ValueKind == JsonValueKind.String ? 4 + 2L * property.Value.GetString()!.Length : 8;
                size += property.Name is "PartitionKey" or "RowKey" ? value - 4 : 8 + 2L * property.Name.Length + value;
            }

            return size;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
