using Azure.Core;
using Azure.Core.Pipeline;

namespace AgentRuns.Functions.Tests.Support;

/// <summary>A policy whose next matching request reaches storage and then "loses" its response, so the storage client sends it again.</summary>
public sealed class LoseResponse(string table) : HttpPipelinePolicy
{
    private string? _method;

    public int Lost { get; private set; }

    public void LoseNext(string HttpMethod) => _method = HttpMethod;

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) => throw new NotSupportedException();

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        await ProcessNextAsync(message, pipeline);
        var uri = message.Request.Uri.ToString();
        if (_method is not null && message.Request.Method.Method == _method && (uri.Contains(table, StringComparison.Ordinal) || uri.Contains("$batch", StringComparison.Ordinal))
            && message.Response.Status is >= 200 and < 300)
        {
            _method = null;
            Lost++;
            throw new IOException("The response was lost on its way back.");
        }
    }
}
